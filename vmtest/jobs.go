package vmtest

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// DefaultJobs is how many guests of memoryMiB fit at once: one per host core,
// bounded by the available memory (leaving 1 GiB and 256 MiB of overhead per
// guest), and at least one.
func DefaultJobs(memoryMiB int) int {
	jobs := runtime.NumCPU()
	if avail := memAvailableMiB(); avail > 0 {
		jobs = min(jobs, (avail-1024)/(memoryMiB+256))
	}
	return max(jobs, 1)
}

func memAvailableMiB() int {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				return 0
			}
			return kb / 1024
		}
	}
	return 0
}
