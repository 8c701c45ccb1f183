// Package countryconfig loads a country's configuration (event forms,
// location tree, settings) from YAML or JSON files. The demo country,
// Farajaland, is embedded as the default; a folder given with --config
// overrides any file of it and may add event types.
//
// Layout of a config folder (every file optional):
//
//	settings.yaml         country code, registration number generator
//	locations.yaml        {locations: [...]} the whole location tree
//	events/<type>.yaml    one event type's form (replaces the default of
//	                      the same name, or adds a new event type)
//	routing.yaml          National ID routing (package routing), checked
//	                      against the event forms
package countryconfig

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/core/routing"
)

//go:embed defaults
var defaults embed.FS

// Defaults returns the embedded default files as a file system rooted at
// the config folder layout.
func Defaults() fs.FS {
	sub, err := fs.Sub(defaults, "defaults")
	if err != nil {
		panic(err) // the embed is part of the binary
	}
	return sub
}

// Load reads the embedded defaults overlaid with the files in dir (""
// = defaults only). Every file is checked, routing.yaml too, though only
// LoadWithRouting returns the routing.
func Load(dir string) (*core.CountryConfig, error) {
	cc, _, err := LoadWithRouting(dir)
	return cc, err
}

// LoadWithRouting is Load that also returns the National ID routing of
// routing.yaml, checked against the event forms.
func LoadWithRouting(dir string) (*core.CountryConfig, *routing.Config, error) {
	var over fs.FS
	if dir != "" {
		st, err := os.Stat(dir)
		if err != nil {
			return nil, nil, fmt.Errorf("config folder: %w", err)
		}
		if !st.IsDir() {
			return nil, nil, fmt.Errorf("config folder %s is not a directory", dir)
		}
		over = os.DirFS(dir)
	}
	return LoadFS(Defaults(), over)
}

// LoadFS reads a configuration and its routing from base overlaid with
// over (may be nil).
func LoadFS(base, over fs.FS) (*core.CountryConfig, *routing.Config, error) {
	pick := func(name string) (fs.FS, string, error) {
		for _, ext := range []string{".yaml", ".yml", ".json"} {
			if over != nil {
				if _, err := fs.Stat(over, name+ext); err == nil {
					return over, name + ext, nil
				}
			}
		}
		for _, ext := range []string{".yaml", ".yml", ".json"} {
			if _, err := fs.Stat(base, name+ext); err == nil {
				return base, name + ext, nil
			}
		}
		return nil, "", fmt.Errorf("%s.yaml: %w", name, fs.ErrNotExist)
	}
	var settings core.Settings
	fsys, name, err := pick("settings")
	if err != nil {
		return nil, nil, err
	}
	if err := decodeFile(fsys, name, &settings); err != nil {
		return nil, nil, err
	}
	var locs struct {
		Locations []core.Location `json:"locations"`
	}
	if fsys, name, err = pick("locations"); err != nil {
		return nil, nil, err
	}
	if err := decodeFile(fsys, name, &locs); err != nil {
		return nil, nil, err
	}
	for i := range locs.Locations {
		locs.Locations[i].ID = strings.ToLower(locs.Locations[i].ID)
		locs.Locations[i].ParentID = strings.ToLower(locs.Locations[i].ParentID)
	}
	names := map[string]bool{}
	for _, f := range []fs.FS{base, over} {
		if f == nil {
			continue
		}
		entries, err := fs.ReadDir(f, "events")
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("events folder: %w", err)
		}
		for _, e := range entries {
			ext := path.Ext(e.Name())
			if !e.IsDir() && (ext == ".yaml" || ext == ".yml" || ext == ".json") {
				names[strings.TrimSuffix(e.Name(), ext)] = true
			}
		}
	}
	ids := make([]string, 0, len(names))
	for n := range names {
		ids = append(ids, n)
	}
	sort.Strings(ids)
	var events []*core.EventConfig
	for _, id := range ids {
		fsys, name, err := pick("events/" + id)
		if err != nil {
			return nil, nil, err
		}
		var ec core.EventConfig
		if err := decodeFile(fsys, name, &ec); err != nil {
			return nil, nil, err
		}
		if ec.ID != id {
			return nil, nil, fmt.Errorf("%s: id %q must match the file name %q", name, ec.ID, id)
		}
		events = append(events, &ec)
	}
	cc, err := core.NewCountryConfig(settings, events, locs.Locations)
	if err != nil {
		return nil, nil, fmt.Errorf("country config: %w", err)
	}
	if fsys, name, err = pick("routing"); err != nil {
		return nil, nil, err
	}
	var rc routing.Config
	if err := decodeFile(fsys, name, &rc); err != nil {
		return nil, nil, err
	}
	if err := rc.Check(cc); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	return cc, &rc, nil
}

// decodeFile reads YAML or JSON strictly: an unknown key is an error that
// names the file.
func decodeFile(fsys fs.FS, name string, v any) error {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return err
	}
	var js []byte
	if filepath.Ext(name) == ".json" {
		js = b
	} else {
		var doc any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if js, err = json.Marshal(doc); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
