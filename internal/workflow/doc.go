// Package workflow keeps text from a guest from acting as a GitHub Actions
// workflow command.
//
// The runner reads a step's output line by line and takes two forms as
// commands: a line that starts, after leading white space, with
// "::NAME ...::DATA", and the legacy form "##[NAME ...]DATA" anywhere in a
// line. While "::stop-commands::TOKEN" is in force it processes no command
// but "::TOKEN::" (or "##[TOKEN]"), which resumes. So a run under GitHub
// Actions is wrapped in a stop with a random token that no guest can know
// (Guard), vmtest's own annotations are printed after the resume, and
// streamed guest lines are neutralised too (Neutral), so that the log
// viewer does not fold or colour them either.
//
// It imports only the standard library and must not import any corematrix
// package.
package workflow
