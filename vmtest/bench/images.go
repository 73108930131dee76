package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"

	"github.com/corematrix/corematrix/vmtest"
	"github.com/corematrix/corematrix/vmtest/initramfs"
)

// images holds the floor and bare archives of each guest architecture,
// written into dir on first use.
type images struct {
	r      *vmtest.Runner // whose busybox the bare archives hold
	dir    string
	mu     sync.Mutex
	floors map[string]string
	bares  map[string]string
}

// get returns the archive of kind (Floor or Bare) for guests of arch.
func (b *images) get(ctx context.Context, arch string, kind Kind) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.floors[arch]; !ok {
		if err := b.write(ctx, arch); err != nil {
			return "", err
		}
	}
	if kind == Floor {
		return b.floors[arch], nil
	}
	return b.bares[arch], nil
}

// write writes the floor and bare archives for guests of arch.
func (b *images) write(ctx context.Context, arch string) error {
	t, ok := tiny[arch]
	if !ok {
		return fmt.Errorf("bench: no floor program for %s", arch)
	}
	busybox, err := b.r.Busybox(ctx, arch)
	if err != nil {
		return err
	}
	floor := filepath.Join(b.dir, "floor-"+arch+".cpio")
	if err := initramfs.WriteFile(floor, []initramfs.File{{Name: "/init", Data: t.powerOff(), Mode: 0o755}}); err != nil {
		return err
	}
	bare := filepath.Join(b.dir, "bare-"+arch+".cpio")
	sh := initramfs.File{Name: "/init", Data: []byte("#!/bin/sh\nexec poweroff -f\n"), Mode: 0o755}
	if err := initramfs.WriteFile(bare, append(slices.Clone(busybox), sh)); err != nil {
		return err
	}
	if b.floors == nil {
		b.floors, b.bares = map[string]string{}, map[string]string{}
	}
	b.floors[arch], b.bares[arch] = floor, bare
	return nil
}
