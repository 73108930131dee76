package hostile

// Touch is code for the coverage to measure.
func Touch() int { return 1 }
