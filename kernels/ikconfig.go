package kernels

import (
	"bytes"
	"compress/gzip"
	"io"
)

// ikconfig returns the kernel config embedded in a vmlinux built with
// CONFIG_IKCONFIG: gzip data between the markers IKCFG_ST and IKCFG_ED. It
// returns nil when there is none.
func ikconfig(vmlinux []byte) []byte {
	const start = "IKCFG_ST"
	_, after, ok := bytes.Cut(vmlinux, []byte(start))
	if !ok {
		return nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(after))
	if err != nil {
		return nil
	}
	zr.Multistream(false)
	cfg, err := io.ReadAll(io.LimitReader(zr, 16<<20))
	if err != nil {
		return nil
	}
	return cfg
}
