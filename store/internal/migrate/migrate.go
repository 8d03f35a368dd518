// Package migrate reads the embedded, numbered SQL migrations of a store
// driver and works out which ones a database still needs. Each driver runs
// them in its own dialect and under its own lock; this package only holds
// the rules they share, so both drivers number and check migrations alike.
package migrate

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migration is one SQL file, named NNNN_name.sql, whose number is its
// version.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Load reads every *.sql file in dir of fsys, ordered by version. Versions
// must start at 1 and have no gaps or duplicates, so that a missing or
// misnamed file fails at build-test time instead of being skipped.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		base := strings.TrimSuffix(e.Name(), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 || name == "" {
			return nil, fmt.Errorf("migration %q: want a name like 0001_init.sql", e.Name())
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %q: %w", e.Name(), err)
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(b)})
	}
	// sort.Slice, not slices.SortFunc (compiled again for each struct
	// type): binary size.
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration versions must run 1, 2, 3... without gaps or repeats; found %d at position %d", m.Version, i+1)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no migrations in %q", dir)
	}
	return out, nil
}

// Pending returns the migrations not in applied, in order. A database that
// records a version this binary does not know was migrated by a newer
// gluenet; running against it could corrupt it, so that is an error.
func Pending(all []Migration, applied []int) ([]Migration, error) {
	known := make(map[int]bool, len(all))
	for _, m := range all {
		known[m.Version] = true
	}
	done := make(map[int]bool, len(applied))
	for _, v := range applied {
		if !known[v] {
			return nil, fmt.Errorf("the database has schema version %d, newer than this gluenet knows (%d): upgrade gluenet", v, len(all))
		}
		done[v] = true
	}
	var out []Migration
	for _, m := range all {
		if !done[m.Version] {
			out = append(out, m)
		}
	}
	return out, nil
}
