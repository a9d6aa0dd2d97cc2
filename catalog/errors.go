package catalog

import (
	"errors"
	"fmt"
)

// ErrorKind classifies an error once, at the boundary where it is known, so
// that GraphQL, HTTP and delivery code can react without string matching.
type ErrorKind int

// Error kinds.
const (
	Internal    ErrorKind = iota // a bug or an unexpected failure
	NotFound                     // the named thing does not exist
	Invalid                      // the caller's input is malformed or not allowed
	Conflict                     // the input contradicts existing state
	Unavailable                  // a dependency is down; retrying may help
	Permission                   // the caller may not do this
)

// Code returns the stable, machine-readable code of k used in GraphQL error
// extensions and HTTP error bodies.
func (k ErrorKind) Code() string {
	switch k {
	case NotFound:
		return "NOT_FOUND"
	case Invalid:
		return "INVALID_ARGUMENT"
	case Conflict:
		return "CONFLICT"
	case Unavailable:
		return "UNAVAILABLE"
	case Permission:
		return "PERMISSION_DENIED"
	default:
		return "INTERNAL"
	}
}

// Error is an error with a kind.
type Error struct {
	Kind ErrorKind
	Msg  string // the full message, including the cause's text
	Err  error  // optional cause
}

// Error returns the message, which already includes the cause's text.
func (e *Error) Error() string { return e.Msg }

// Unwrap returns the cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// ErrClosed is returned (possibly wrapped) by every operation on a store
// that has been closed. It is of kind Unavailable; callers that tail the
// change log stop on it instead of retrying.
var ErrClosed error = &Error{Kind: Unavailable, Msg: "store is closed"}

// Errorf returns an *Error of kind k with a formatted message. A %w verb in
// format wraps the argument as the cause.
func Errorf(k ErrorKind, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &Error{Kind: k, Msg: err.Error(), Err: errors.Unwrap(err)}
}

// KindOf returns the kind of the first *Error in err's chain, or Internal.
func KindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// IsNotFound reports whether err is of kind NotFound.
func IsNotFound(err error) bool { return err != nil && KindOf(err) == NotFound }
