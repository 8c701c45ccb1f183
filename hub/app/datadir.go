package app

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LockFile is the file in the data folder that the hub holding the folder
// keeps locked (it holds that process's pid).
const LockFile = "crvshub.lock"

// ErrDataDirInUse is returned (wrapped) when another crvshub holds the
// data folder.
var ErrDataDirInUse = errors.New("data folder in use")

// DataLock is the exclusive hold one process has on a data folder.
//
// Two hubs on one folder would both relay the same outbox rows and run
// two embedded JetStream servers on <data>/nats: MOSIP would get every
// record twice. The lock is an flock(2) on <data>/crvshub.lock, so the
// operating system drops it when its holder exits, however it exits
// (kill -9, a power cut): a stale lock file never blocks a restart.
type DataLock struct {
	f   *os.File
	dir string
}

// LockDataDir creates the data folder if needed (0700) and takes its lock,
// failing at once with ErrDataDirInUse (naming the holder's pid) when
// another process holds it.
func LockDataDir(dir string) (*DataLock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data folder lock: %w", err)
	}
	held, err := flock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("data folder lock %s: %w", path, err)
	}
	if !held {
		pid := "unknown"
		if b, err := os.ReadFile(path); err == nil {
			if s := strings.TrimSpace(string(b)); s != "" {
				pid = s
			}
		}
		f.Close()
		return nil, fmt.Errorf("data folder %s is in use by another crvshub (pid %s): %w", dir, pid, ErrDataDirInUse)
	}
	// The pid is for the operator reading the error above; the lock is
	// the flock, not the file's content.
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("data folder lock %s: %w", path, err)
	}
	return &DataLock{f: f, dir: dir}, nil
}

// Dir is the locked data folder.
func (l *DataLock) Dir() string { return l.dir }

// Unlock releases the lock (idempotent). The file stays: removing it
// would race with a process that opened it and is about to lock it.
func (l *DataLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the last descriptor releases the flock
	l.f = nil
	return err
}

// databaseFiles are the SQLite database and its WAL and shared-memory
// files in a data folder.
func databaseFiles(dataDir string) []string {
	db := filepath.Join(dataDir, DBFile)
	return []string{db, db + "-wal", db + "-shm"}
}

// createPrivateDB creates an empty database file with mode 0600 when there
// is none, and brings existing database files (an older hub's, made 0644
// under the usual umask) to 0600.
//
// The database holds every birth and death record. SQLite creates the file
// with 0644 less the umask, so a data folder that already exists with 0755
// (a package's /var/lib/crvshub, a docker volume) would let every local
// user read it. SQLite gives the -wal and -shm files the main file's mode,
// so a 0600 database keeps them 0600 too; fixPrivateDB checks after open.
// An empty file is a valid empty SQLite database.
func createPrivateDB(dataDir string) error {
	f, err := os.OpenFile(filepath.Join(dataDir, DBFile), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		return f.Close()
	}
	if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create database: %w", err)
	}
	return fixPrivateDB(dataDir)
}

// fixPrivateDB makes the database files that exist mode 0600.
func fixPrivateDB(dataDir string) error {
	for _, p := range databaseFiles(dataDir) {
		st, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("database file mode: %w", err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, 0o600); err != nil {
				return fmt.Errorf("database file mode: %w", err)
			}
		}
	}
	return nil
}

// warnOpenDataDir logs a warning when other users may enter the data
// folder. The database is kept 0600 whatever the folder's mode, but the
// folder also holds keys, the demo client and the NATS store (which NATS
// writes group-readable); a private folder is the simple guarantee. It
// warns rather than chmods: the folder's mode is the operator's.
func warnOpenDataDir(log *slog.Logger, dataDir string) {
	st, err := os.Stat(dataDir)
	if err != nil || st.Mode().Perm()&0o077 == 0 {
		return
	}
	log.Warn("the data folder is accessible to other users; chmod 700 it", "data", dataDir,
		"mode", fmt.Sprintf("%04o", st.Mode().Perm()))
}

// RequireDatabase fails with a clear error when dataDir holds no crvshub
// database, so that a command given a wrong --data does not create an
// empty one and seem to work.
func RequireDatabase(dataDir string) error {
	st, err := os.Stat(filepath.Join(dataDir, DBFile))
	if err == nil && st.Mode().IsRegular() {
		return nil
	}
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no crvshub database in %s (start the hub there or run `crvshub migrate --data %s` first): %w",
			dataDir, dataDir, fs.ErrNotExist)
	}
	return fmt.Errorf("database: %w", err)
}
