package report

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSlowest(t *testing.T) {
	tests := []TestResult{
		{Name: "TestA", Elapsed: 1},
		{Name: "TestB", Elapsed: 3},
		{Name: "TestB/sub", Elapsed: 2.9},
		{Name: "TestC", Elapsed: 2},
	}
	assert.Equal(t, []TestTime{{"TestB", 3}, {"TestC", 2}}, Slowest(tests, 2), "top-level tests only, slowest first")
	assert.Len(t, Slowest(tests, 5), 3)
	assert.Empty(t, Slowest(nil, 5))
}
