package kernels

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/kernels/cache"
)

// localFiles finds the bzImage and config of a local name: a bzImage file,
// or a directory in the ci-kernels layout (boot/vmlinuz, boot/config).
func localFiles(p string) (image, config string, err error) {
	st, err := os.Stat(p)
	if err != nil {
		return "", "", err
	}
	if !st.IsDir() {
		for _, c := range []string{filepath.Join(filepath.Dir(p), "config"), filepath.Join(filepath.Dir(p), ".config")} {
			if _, err := os.Stat(c); err == nil {
				config = c
				break
			}
		}
		return p, config, nil
	}
	first := func(patterns ...string) string {
		for _, pat := range patterns {
			if m, _ := filepath.Glob(filepath.Join(p, pat)); len(m) == 1 {
				return m[0]
			}
		}
		return ""
	}
	image = first("boot/vmlinuz", "vmlinuz", "bzImage", "arch/x86/boot/bzImage", "Image", "arch/arm64/boot/Image", "arch/arm64/boot/Image.gz", "boot/vmlinuz-*")
	if image == "" {
		return "", "", fmt.Errorf("directory %s holds no boot/vmlinuz (the ci-kernels layout), vmlinuz, bzImage or Image", p)
	}
	config = first("boot/config", "config", ".config", "boot/config-*")
	return image, config, nil
}

func (r *Resolver) resolveLocal(n kernel.Name) (*kernel.Kernel, *LockEntry, error) {
	imgPath, cfgPath, err := localFiles(n.Path)
	if err != nil {
		return nil, nil, fmt.Errorf("kernel %s: %w", n.Raw, err)
	}
	if abs, err := filepath.Abs(imgPath); err == nil {
		imgPath = abs
	}
	if !IsImage(imgPath) {
		return nil, nil, fmt.Errorf("kernel %s: %s: %w%s", n.Raw, imgPath, ErrNotKernelImage, notBzImageHint(imgPath))
	}
	sum, err := cache.HashFile(imgPath)
	if err != nil {
		return nil, nil, fmt.Errorf("kernel %s: %w", n.Raw, err)
	}
	e := LockEntry{Source: "local:" + imgPath, SHA256: sum}
	img := &kernel.Kernel{Name: n.Raw, Source: e.Source, Path: imgPath, SHA256: sum}
	if cfgPath != "" {
		if abs, err := filepath.Abs(cfgPath); err == nil {
			cfgPath = abs
		}
		img.ConfigPath = cfgPath
		img.Config = configHighlights(cfgPath)
		if e.ConfigSHA256, err = cache.HashFile(cfgPath); err != nil {
			return nil, nil, err
		}
	}
	if err := r.fillMeta(img); err != nil {
		return nil, nil, fmt.Errorf("kernel %s: %w", n.Raw, err)
	}
	e.Version, e.Release = img.Version, img.Release
	return img, &e, nil
}

// notBzImageHint explains common mistakes: an uncompressed vmlinux ELF.
func notBzImageHint(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 4)
	f.Read(head)
	if bytes.Equal(head, []byte("\x7fELF")) {
		return " (it is an ELF file, probably vmlinux; boot needs the bzImage, arch/x86/boot/bzImage, or the arm64 Image, arch/arm64/boot/Image)"
	}
	return ""
}
