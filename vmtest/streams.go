package vmtest

import (
	"fmt"
	"strings"

	"github.com/corematrix/corematrix/internal/beneath"
	"github.com/corematrix/corematrix/report"
	"github.com/corematrix/corematrix/vmtest/gotest"
	"github.com/corematrix/corematrix/vmtest/wire"
)

// More files the runner writes into a kernel's report directory.
const (
	OutputFile = "output.log" // the payload's stdout and stderr, as the guest sent them
	DmesgFile  = "dmesg.log"  // the guest's kernel log buffer at the end of the run
)

// writeStreams writes the payload section of a results stream as OutputFile
// and the kmsg section as DmesgFile: exactly the section bytes (no protocol
// lines), also when a section was cut short (then it is all that arrived).
// A Go test's output is written as -test.v prints it (without the ^V
// markers of the test2json framing the runner asked for). A section that
// never began writes no file.
func writeStreams(dir string, st *wire.Stream, goTest bool) error {
	d, err := beneath.Open(dir)
	if err != nil {
		return fmt.Errorf("write streams: %w", err)
	}
	defer d.Close()
	for _, f := range []struct{ section, file string }{{wire.SectionPayload, OutputFile}, {wire.SectionKmsg, DmesgFile}} {
		if s := st.Section(f.section); s != nil {
			data := s.Data
			if goTest && f.section == wire.SectionPayload {
				data = gotest.Plain(data)
			}
			// Never through a link planted where the file belongs.
			if err := d.WriteFile(f.file, data, 0o644, beneath.Replace); err != nil {
				return fmt.Errorf("write %s: %w", f.file, err)
			}
		}
	}
	return nil
}

// failureTail is what a failed kernel shows of its output: the end of the
// failing tests' output for Go tests, else the end of the payload's output.
func failureTail(v Verdict) string {
	var b strings.Builder
	for _, t := range v.Tests {
		if t.Status == "fail" {
			b.WriteString(t.Output)
		}
	}
	if b.Len() > 0 {
		return report.Tail(b.String(), report.TailLines)
	}
	return report.Tail(string(gotest.Plain(v.Output)), report.TailLines)
}
