package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/corematrix/corematrix/corereport"
	"github.com/corematrix/corematrix/kernel"
)

// maxLoadRows bounds the JSON of an earlier run that --from reads.
const maxLoadRows = 256 << 20

// repredict is `vmtest load --from FILE`: the rows of an earlier run's
// JSON, what the kernels did kept and the prediction made again (no boot),
// so a change to the prediction is measured against boots already paid for.
func repredict(ctx context.Context, path string, resolver kernel.Resolver, bc *corereport.BTFCache) ([]loadResult, error) {
	raw, err := readLimited(path, maxLoadRows)
	if err != nil {
		return nil, usageError(err)
	}
	var old []loadResult
	if err := json.Unmarshal(raw, &old); err != nil {
		return nil, usageError(fmt.Errorf("%s: %w", path, err))
	}
	var objNames, kernelNames []string
	got := map[string]map[string]map[string]loadRow{} // kernel -> object -> program
	for _, r := range old {
		if got[r.Kernel] == nil {
			got[r.Kernel] = map[string]map[string]loadRow{}
			kernelNames = append(kernelNames, r.Kernel)
		}
		if got[r.Kernel][r.Object] == nil {
			got[r.Kernel][r.Object] = map[string]loadRow{}
			if len(got) == 1 {
				objNames = append(objNames, r.Object)
			}
		}
		if r.Agreement != agreeNoResult {
			got[r.Kernel][r.Object][r.Program] = loadRow{Program: r.Program, Loaded: r.Loaded, Attached: r.Attached,
				Error: r.Error, Stage: r.Stage, NotTried: r.NotTried, Insns: r.Insns}
		}
	}
	objs, err := loadObjects(objNames)
	if err != nil {
		return nil, err
	}
	ks, err := parseKernels([]string{strings.Join(kernelNames, ",")})
	if err != nil {
		return nil, usageError(fmt.Errorf("%s: %w", path, err))
	}
	var rows []loadResult
	for _, k := range ks {
		resolved, err := resolver.Resolve(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("kernel %s: %w", k.Name, err)
		}
		for _, o := range objs {
			pred, err := predictOn(o.spec, bc, resolved)
			if err != nil {
				fmt.Fprintf(os.Stderr, "vmtest load: prediction for %s on %s: %v\n", o.name, k.Name, err)
			}
			rows = append(rows, compareLoad(o, k.Name, resolved.Version, got[k.Name][o.name], pred)...)
		}
	}
	return rows, nil
}

// readLimited reads the file at path, refusing one over max bytes.
func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err == nil && int64(len(b)) > max {
		err = fmt.Errorf("%s: more than %d bytes", path, max)
	}
	return b, err
}
