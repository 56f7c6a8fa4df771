package outputs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Notifier publishes one message to a notification topic (SMN).
type Notifier interface {
	// Publish sends m and returns the service's message id. Errors are
	// *Error.
	Publish(ctx context.Context, m Message) (messageID string, err error)
	// Where names the topic, as a report shows it (its URN).
	Where() string
}

// Message is one notification: a subject line, a plain-text body readable
// as e-mail, and attributes subscription filter policies can match.
type Message struct {
	// Subject is one line (no line breaks), at most MaxSubjectBytes.
	Subject string
	// Body is the message, at most MaxMessageBytes of UTF-8.
	Body string
	// Attributes are the message's attributes (SMN message_attributes of
	// type STRING_ARRAY), in order; empty ones are not sent.
	Attributes []Attribute
}

// Attribute is one message attribute: a name and its values.
type Attribute struct {
	Name   string
	Values []string
}

// Metrics stores metric data (Cloud Eye custom metrics).
type Metrics interface {
	// Put stores the data points, all under the sink's namespace, in as
	// few calls as the service's limits allow. Errors are *Error.
	Put(ctx context.Context, points []Datum) error
	// Where names the namespace, as a report shows it.
	Where() string
}

// Datum is one metric data point.
type Datum struct {
	// Metric is the metric's name (letters, digits, underscores; starts
	// with a letter; at most 64 characters).
	Metric string
	// Dimensions identify the series (at most 4, see MaxDimensions).
	Dimensions []Dimension
	Value      float64
	// Unit is the value's unit ("count").
	Unit string
	// At is when the value was collected.
	At time.Time
}

// Dimension is one dimension of a metric.
type Dimension struct {
	Name, Value string
}

// Store keeps objects (OBS): the reports, the run summaries, the HTML
// pages, the latest pointers and the notification state.
type Store interface {
	// Put stores body (size bytes, read from its start; a retry seeks it
	// back) under key. Errors are *Error.
	Put(ctx context.Context, key string, body io.ReadSeeker, size int64, o PutOptions) error
	// Get opens the object at key; an object that does not exist is an
	// *Error that Is ErrNotFound. The caller closes the reader.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Where is the location of key as a person reads it:
	// obs://bucket/key.
	Where(key string) string
}

// PutOptions describe an object stored.
type PutOptions struct {
	ContentType     string // "application/json", "text/html; charset=utf-8"
	ContentEncoding string // "gzip" for compressed reports, else ""
}

// Error kinds an output's error carries.
var (
	// ErrNotFound: the object, bucket or topic does not exist.
	ErrNotFound = errors.New("not found")
	// ErrDenied: the credentials may not do this.
	ErrDenied = errors.New("denied")
	// ErrThrottled: the service asked to slow down.
	ErrThrottled = errors.New("throttled")
	// ErrTransient: a network error or a 5xx; worth a retry.
	ErrTransient = errors.New("transient")
	// ErrInvalid: the service refused the request as malformed or over a
	// limit; a retry does not help.
	ErrInvalid = errors.New("invalid")
)

// Error is an output's failed call: the service, the operation, the HTTP
// status, the service's own error code and message, and its kind (one of
// the Err variables above, for errors.Is).
type Error struct {
	Service string // "smn", "ces", "obs"
	Op      string // "publish", "put_metric_data", "put_object", "get_object"
	Status  int    // HTTP status; 0 when no response came
	Code    string // the service's error code ("SMN.00010022", "NoSuchBucket")
	Message string // the service's message, or the transport error
	Kind    error
}

// Error says what failed, with the code and status.
func (e *Error) Error() string {
	s := fmt.Sprintf("%s %s", e.Service, e.Op)
	if e.Status != 0 {
		s += fmt.Sprintf(": HTTP %d", e.Status)
	}
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is matches the error's kind.
func (e *Error) Is(target error) bool { return e.Kind != nil && target == e.Kind }

// Retryable reports whether a retry may succeed: throttled or transient.
func (e *Error) Retryable() bool { return e.Kind == ErrThrottled || e.Kind == ErrTransient }

// absent reports whether err says an object is not there: not found, or
// denied as OBS denies a missing object to a caller without the bucket's
// ListBucket permission, which the function is not granted. For the
// objects a run may find missing (markers, records, a fan-out's report)
// both lead to the same decision; the latest pointer, whose denial
// leaves the previous state unknown, is read without it.
func absent(err error) bool { return errors.Is(err, ErrNotFound) || errors.Is(err, ErrDenied) }
