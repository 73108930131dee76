package harness

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"

	"github.com/corematrix/corematrix/vmtest/report"
)

// facts collects what the tests learn about the kernel; TestMain writes it to
// $CM_FACTS once every test ran.
var facts struct {
	sync.Mutex
	report.Facts
}

// writeFacts writes the collected facts as JSON to $CM_FACTS, if set.
func writeFacts() error {
	path := os.Getenv("CM_FACTS")
	if path == "" {
		return nil
	}
	facts.Lock()
	defer facts.Unlock()
	b, err := json.MarshalIndent(&facts.Facts, "", "  ")
	if err != nil {
		return fmt.Errorf("write facts: %w", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write facts: %w", err)
	}
	return nil
}
