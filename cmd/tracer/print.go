package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/corematrix/corematrix/probes"
)

type printer struct {
	w      io.Writer
	json   *json.Encoder
	header bool
}

func newPrinter(format string, w io.Writer) *printer {
	p := &printer{w: w}
	if format == "json" {
		p.json = json.NewEncoder(w)
	}
	return p
}

// print writes one event: a JSON object per line, or a table row.
func (p *printer) print(ev probes.Event) error {
	if p.json != nil {
		return p.json.Encode(ev)
	}
	if !p.header {
		p.header = true
		if _, err := fmt.Fprintf(p.w, "%-7s %7s %7s %-16s %s\n", "EVENT", "PID", "TGID", "COMM", "DETAILS"); err != nil {
			return err
		}
	}
	h := ev.Hdr()
	d, ok := details(ev)
	if !ok {
		d = ev.String()
	}
	_, err := fmt.Fprintf(p.w, "%-7s %7d %7d %-16s %s\n", h.Kind, h.PID, h.TGID, h.Comm, d)
	return err
}

// details is the DETAILS column of an event; ok is false for an event type
// without a case here (a new event kind needs one: TestDetailsCoverEveryKind
// fails until it has it, see the checklist in package probes).
func details(ev probes.Event) (string, bool) {
	switch e := ev.(type) {
	case *probes.Exec:
		trunc := ""
		if e.DepthTruncated {
			trunc = "+"
		}
		return fmt.Sprintf("%s ppid=%d (%s) uid=%d gid=%d depth=%d%s start_ns=%d [%s]",
			e.Filename, e.PPID, e.ParentComm, e.UID, e.GID, e.Depth, trunc, e.StartNs, e.Core), true
	case *probes.Exit:
		st, sig := e.Status()
		return fmt.Sprintf("code=%#x status=%d signal=%d [%s]", e.Code, st, sig, e.Core), true
	case *probes.Open:
		return fmt.Sprintf("%s inode=%d [%s]", e.Name, e.Inode, e.Core), true
	case *probes.Connect:
		return fmt.Sprintf("%s -> %s ret=%d [%s]", e.Src, e.Dst, e.Ret, e.Core), true
	case *probes.SchedState:
		return fmt.Sprintf("state=%s (%#x) [%s]", e.StateChar(), e.State, e.Core), true
	}
	return "", false
}
