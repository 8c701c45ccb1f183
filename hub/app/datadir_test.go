//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package app

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core/store/sqlite"
)

func quietLog() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

// TestOpenLocksDataFolder: one hub per data folder. A second Open (or a
// migrate) fails at once naming the holder's pid, the client commands'
// store still opens beside the running hub, and after Close the folder
// opens again.
func TestOpenLocksDataFolder(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, err := Open(ctx, Options{DataDir: dir, Log: quietLog(), SecretCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, Options{DataDir: dir, Log: quietLog(), SecretCost: 4})
	if err == nil {
		b.Close()
		a.Close()
		t.Fatal("a second hub opened the data folder a running hub holds")
	}
	want := fmt.Sprintf("data folder %s is in use by another crvshub (pid %d)", dir, os.Getpid())
	if !errors.Is(err, ErrDataDirInUse) || !strings.Contains(err.Error(), want) {
		t.Fatalf("second Open: %v, want %q", err, want)
	}
	if _, err := Migrate(ctx, dir); !errors.Is(err, ErrDataDirInUse) {
		t.Fatalf("Migrate beside a running hub: %v, want ErrDataDirInUse", err)
	}
	st, err := OpenExistingStore(ctx, dir)
	if err != nil {
		t.Fatalf("the clients commands' store beside a running hub: %v", err)
	}
	st.Close()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b, err = Open(ctx, Options{DataDir: dir, Log: quietLog(), SecretCost: 4})
	if err != nil {
		t.Fatalf("Open after the first hub closed: %v", err)
	}
	b.Close()
	if _, err := Migrate(ctx, dir); err != nil {
		t.Fatalf("Migrate after the hub closed: %v", err)
	}
}

// TestOpenReleasesLockOnFailure: an Open that fails after taking the lock
// (here: a bad SQLite setting) does not leave the folder locked, also
// when the caller handed its own lock over.
func TestOpenReleasesLockOnFailure(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := Open(ctx, Options{DataDir: dir, Log: quietLog(), SecretCost: 4, Synchronous: "bogus"}); err == nil {
		t.Fatal("Open took a bogus synchronous level")
	}
	lock, err := LockDataDir(dir)
	if err != nil {
		t.Fatalf("the failed Open left the folder locked: %v", err)
	}
	if _, err := Open(ctx, Options{DataDir: dir, Log: quietLog(), SecretCost: 4, Synchronous: "bogus", DataLock: lock}); err == nil {
		t.Fatal("Open took a bogus synchronous level")
	}
	a, err := Open(ctx, Options{DataDir: dir, Log: quietLog(), SecretCost: 4})
	if err != nil {
		t.Fatalf("the failed Open kept the handed-over lock: %v", err)
	}
	a.Close()
}

const lockHolderEnv = "CRVSHUB_TEST_LOCK_HOLDER"

// TestLockHolderProcess is the child of TestStaleLockAfterKill: it opens a
// hub on the folder it is given, says so, and waits to be killed.
func TestLockHolderProcess(t *testing.T) {
	dir := os.Getenv(lockHolderEnv)
	if dir == "" {
		t.Skip("only run as TestStaleLockAfterKill's child")
	}
	if _, err := Open(context.Background(), Options{DataDir: dir, Log: quietLog(), SecretCost: 4}); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	time.Sleep(time.Minute)
	os.Exit(1)
}

// TestStaleLockAfterKill: a hub killed with SIGKILL leaves its lock file
// (with its pid) behind, but the OS dropped its flock, so the next hub
// opens the folder. While the holder lives, Open names its pid.
func TestStaleLockAfterKill(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHolderProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), lockHolderEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "locked" {
		t.Fatalf("child: %q (%v)", line, err)
	}
	_, err = Open(context.Background(), Options{DataDir: dir, Log: quietLog(), SecretCost: 4})
	if want := "(pid " + strconv.Itoa(cmd.Process.Pid) + ")"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Open beside the child hub: %v, want an error naming %s", err, want)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killed = true
	b, err := os.ReadFile(filepath.Join(dir, LockFile))
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(cmd.Process.Pid) {
		t.Fatalf("lock file after kill -9: %q (%v), want the dead pid", b, err)
	}
	a, err := Open(context.Background(), Options{DataDir: dir, Log: quietLog(), SecretCost: 4})
	if err != nil {
		t.Fatalf("a kill -9'd hub's lock file blocks the next start: %v", err)
	}
	a.Close()
}

// TestDatabaseFilesPrivate: the database and its -wal and -shm files are
// 0600 whatever the umask and the folder's mode, also when an older hub
// left them 0644; a folder other users can enter is logged as a warning.
func TestDatabaseFilesPrivate(t *testing.T) {
	old := syscall.Umask(0o022) // the usual umask, whatever the test runner's
	defer syscall.Umask(old)
	cases := []struct {
		name     string
		dirMode  fs.FileMode
		existing bool // an older hub's database files, mode 0644
		warn     bool
	}{
		{"new database in a 0755 folder", 0o755, false, true},
		{"new database in a 0700 folder", 0o700, false, false},
		{"0644 files an older hub left", 0o750, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if err := os.Mkdir(dir, c.dirMode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, c.dirMode); err != nil {
				t.Fatal(err)
			}
			if c.existing {
				a, err := Open(context.Background(), Options{DataDir: dir, Log: quietLog(), SecretCost: 4})
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range databaseFiles(dir) {
					os.Chmod(p, 0o644)
				}
				a.Close()
				for _, p := range databaseFiles(dir) {
					if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
						os.WriteFile(p, nil, 0o644) // a -wal/-shm a crash left behind
					}
				}
			}
			var logs bytes.Buffer
			a, err := Open(context.Background(), Options{DataDir: dir, Log: slog.New(slog.NewJSONHandler(&logs, nil)), SecretCost: 4})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if _, err := a.Clients.List(context.Background()); err != nil { // a read: WAL and shm exist now
				t.Fatal(err)
			}
			for _, p := range databaseFiles(dir) {
				st, err := os.Stat(p)
				if err != nil {
					t.Fatalf("%s: %v", filepath.Base(p), err)
				}
				if st.Mode().Perm() != 0o600 {
					t.Errorf("%s has mode %04o, want 0600: other local users could read the records", filepath.Base(p), st.Mode().Perm())
				}
			}
			if warned := strings.Contains(logs.String(), "accessible to other users"); warned != c.warn {
				t.Errorf("folder mode %04o: warned = %v, want %v; logs: %s", c.dirMode, warned, c.warn, logs.String())
			}
		})
	}
}

// TestOpenExistingStoreNeedsDatabase: the clients commands' store does not
// create a database (nor the folder) where there is none: a wrong --data
// is an error naming the folder.
func TestOpenExistingStoreNeedsDatabase(t *testing.T) {
	ctx := context.Background()
	for _, dir := range []string{filepath.Join(t.TempDir(), "missing"), t.TempDir()} {
		_, err := OpenExistingStore(ctx, dir)
		if want := "no crvshub database in " + dir; err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("OpenExistingStore(%s): %v, want %q", dir, err, want)
		}
		if _, err := os.Stat(filepath.Join(dir, DBFile)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("OpenExistingStore made %s (%v)", filepath.Join(dir, DBFile), err)
		}
	}
	dir := filepath.Join(t.TempDir(), "new")
	path, err := Migrate(ctx, dir)
	if err != nil || path != filepath.Join(dir, DBFile) {
		t.Fatalf("Migrate: %q, %v", path, err)
	}
	st, err := OpenExistingStore(ctx, dir)
	if err != nil {
		t.Fatalf("OpenExistingStore after migrate: %v", err)
	}
	st.Close()
}

// TestClientsStoreDoesNotMigrateUnderARunningHub: while a hub holds the
// folder, the clients commands' store refuses a schema older than the
// program instead of migrating it under the hub; with the folder free it
// migrates (under the lock).
func TestClientsStoreDoesNotMigrateUnderARunningHub(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := Migrate(ctx, dir); err != nil {
		t.Fatal(err)
	}
	// make the database look one version older than this program
	db, err := sql.Open("sqlite", filepath.Join(dir, DBFile))
	if err != nil {
		t.Fatal(err)
	}
	var last int
	var at string
	if err := db.QueryRow(`SELECT version, applied_at FROM schema_migrations ORDER BY version DESC LIMIT 1`).Scan(&last, &at); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM schema_migrations WHERE version = ?`, last); err != nil {
		t.Fatal(err)
	}
	lock, err := LockDataDir(dir) // a running hub
	if err != nil {
		t.Fatal(err)
	}
	if st, err := OpenExistingStore(ctx, dir); !errors.Is(err, sqlite.ErrSchemaOutdated) {
		if st != nil {
			st.Close()
		}
		t.Fatalf("beside a running hub, an outdated schema: %v, want ErrSchemaOutdated", err)
	}
	// the schema untouched: put its version back, and with the folder
	// free the store opens
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, last, at); err != nil {
		t.Fatal(err)
	}
	db.Close()
	lock.Unlock()
	st, err := OpenExistingStore(ctx, dir)
	if err != nil {
		t.Fatalf("with the folder free: %v", err)
	}
	st.Close()
}
