package huaweikms

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/response"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	v2 "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"
	"github.com/sirupsen/logrus"

	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policy"
)

// API names used in errors, logs and the emulator's counters.
const (
	opListKeys    = "list-keys"
	opDescribeKey = "describe-key"
	opBulk        = "resource-instances"
	opShowTags    = "show-tags"
	opTagsAction  = "tags-action"
)

// Store is a handler.KeyStore over Huawei Cloud KMS through the official SDK.
// It is safe for concurrent use. Build one per invocation with New.
type Store struct {
	cfg      Config
	endpoint string
	cred     *auth.BasicCredentials
	log      logrus.FieldLogger
	redact   Redactor // masks the credentials in what responses say
}

var _ handler.KeyStore = (*Store)(nil)

// New checks the configuration and resolves the endpoint and credentials. It
// makes no network call.
func New(cfg Config) (*Store, error) {
	cfg = cfg.withDefaults()
	ep, err := cfg.endpoint()
	if err != nil {
		return nil, fmt.Errorf("configure kms: %w", err)
	}
	cred, err := cfg.credentials()
	if err != nil {
		return nil, fmt.Errorf("configure kms: %w", err)
	}
	s := &Store{cfg: cfg, endpoint: ep, cred: cred, log: cfg.Log,
		redact: NewRedactor(cred.AK, cred.SK, cred.SecurityToken)}
	// Build one client now so that a configuration the SDK refuses fails here.
	if _, err := s.client(context.Background()); err != nil {
		return nil, fmt.Errorf("configure kms: %w", err)
	}
	return s, nil
}

// ProjectID returns the project whose keys the store manages.
func (s *Store) ProjectID() string { return s.cred.ProjectId }

// Endpoint returns the KMS endpoint in use.
func (s *Store) Endpoint() string { return s.endpoint }

// ctxTransport binds every request of one call to the caller's context, so
// that the SDK (which has no context) stops at the caller's deadline.
type ctxTransport struct {
	ctx  context.Context
	base http.RoundTripper
}

func (t ctxTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.base.RoundTrip(r.WithContext(t.ctx))
}

// errorHandler keeps the SDK's parsing of error bodies (nested KMS bodies and
// the gateway's flat ones) and adds the flat body's request_id. It masks the
// store's credentials in the body first, so that no message, code or request
// id derived from it carries them (a clipped message cannot cut one in half).
type errorHandler struct {
	redact Redactor
}

// HandleError turns an error response into an *sdkerr.ServiceResponseError.
func (h errorHandler) HandleError(req *request.DefaultHttpRequest, resp *response.DefaultHttpResponse) error {
	if resp.GetStatusCode() < 400 {
		return nil
	}
	body, _ := resp.GetBodyAsBytes()
	body = h.redact.Bytes(body)
	r := *resp.Response
	r.Body = http.NoBody
	if len(body) > 0 {
		r.Body = readCloser(body)
	}
	sre := sdkerr.NewServiceResponseError(&r)
	if sre.RequestId == "" {
		sre.RequestId = requestIDFromBody(body)
	}
	return sre
}

// client builds the SDK client for one call: cheap, bound to ctx.
func (s *Store) client(ctx context.Context) (*v2.KmsClient, error) {
	hc := config.DefaultHttpConfig().
		WithTimeout(s.cfg.HTTPTimeout).
		WithHttpRoundTripper(ctxTransport{ctx: ctx, base: s.cfg.Transport}).
		WithUserAgent("tagwarden")
	c, err := v2.KmsClientBuilder().
		WithEndpoints([]string{s.endpoint}).
		WithCredential(s.cred).
		WithHttpConfig(hc).
		WithErrorHandler(errorHandler{redact: s.redact}).
		SafeBuild()
	if err != nil {
		return nil, fmt.Errorf("build kms client: %w", err)
	}
	return v2.NewKmsClient(c), nil
}

// do runs one API call paced by the store's Pacer, with bounded retries,
// never past ctx's deadline. fn is called once per attempt with a client
// bound to ctx, built at the first attempt and reused by the retries.
//
// Throttled answers (429) and the other retryable failures (500, 502, 503,
// 504, network errors) spend separate budgets, MaxThrottleRetries and
// MaxRetries, each with its own backoff sequence: a call that met one 500
// and then several 429s has spent one retry of MaxRetries. A 429 also
// pauses every caller of the Pacer (see Pacer), on top of the throttled
// call's own backoff.
func (s *Store) do(ctx context.Context, op, keyID string, fn func(*v2.KmsClient) error) error {
	var (
		last *Error
		c    *v2.KmsClient
		// retries spent from each budget: [0] MaxRetries, [1] MaxThrottleRetries
		spent [2]int
	)
	for {
		if err := ctx.Err(); err != nil {
			return s.stopped(op, keyID, last, err)
		}
		sent, err := s.cfg.Pacer.wait(ctx)
		if err != nil {
			if last != nil {
				// The deadline, not the last failure, ends the call.
				return s.stopped(op, keyID, last, context.DeadlineExceeded)
			}
			return &Error{Op: op, KeyID: keyID, Kind: handler.ErrThrottled,
				Hint: "the rate limit leaves no room for this call before the deadline", Message: err.Error(), Err: context.DeadlineExceeded}
		}
		if c == nil {
			if c, err = s.client(ctx); err != nil {
				return &Error{Op: op, KeyID: keyID, Kind: handler.ErrInvalid, Hint: "build client", Message: err.Error(), Err: err}
			}
		}
		if err = fn(c); err == nil {
			s.cfg.Pacer.passed(sent)
			return nil
		}
		e := classify(op, keyID, err)
		s.redact.scrub(e)
		switch {
		case e.Status == 0: // no answer: nothing learnt about the gateway
		case e.Kind == handler.ErrThrottled:
			s.cfg.Pacer.throttled(sent)
			e.Hint = throttleHint(e.Hint, e.Message, s.cfg.Pacer.limit())
		default:
			s.cfg.Pacer.passed(sent)
		}
		if cerr := ctx.Err(); cerr != nil {
			if e.Status == 0 && last != nil {
				// Cut in flight by ctx: the last answer says why the call
				// failed (throttled stays throttled), not the cut.
				e = last
			}
			return s.stopped(op, keyID, e, cerr)
		}
		budget, limit := 0, s.cfg.MaxRetries
		if errors.Is(e, handler.ErrThrottled) {
			budget, limit = 1, s.cfg.MaxThrottleRetries
		}
		attempt := spent[0] + spent[1] + 1 // attempts made so far
		if !e.Retryable() || spent[budget] >= limit {
			return e
		}
		last = e
		wait := s.backoff(spent[budget])
		spent[budget]++
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= wait {
			s.log.WithFields(logrus.Fields{"api": op, "key_id": keyID, "attempt": attempt}).
				Debug("not retrying: the backoff would cross the deadline")
			// The deadline, not the failure, ends the call: the caller may
			// try again in its next invocation.
			return s.stopped(op, keyID, e, context.DeadlineExceeded)
		}
		s.log.WithFields(logrus.Fields{"api": op, "key_id": keyID, "attempt": attempt, "status": e.Status, "code": e.Code, "backoff": wait.String()}).
			Debug("retrying kms call")
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return s.stopped(op, keyID, e, ctx.Err())
		case <-t.C:
		}
	}
}

// stopped is the error for a call cut short by ctx: the kind of the last
// failure if there was one (throttled stays throttled), else transient.
func (s *Store) stopped(op, keyID string, last *Error, cause error) error {
	if last != nil {
		c := *last
		switch {
		case c.Err == nil:
			c.Err = cause
		case !errors.Is(c.Err, cause):
			c.Err = errors.Join(c.Err, cause)
		}
		return &c
	}
	return &Error{Op: op, KeyID: keyID, Kind: handler.ErrTransient, Hint: "deadline reached before the call", Message: cause.Error(), Err: cause}
}

// backoff is exponential with full jitter: uniform in [0, min(max, base*2^n)).
func (s *Store) backoff(attempt int) time.Duration {
	d := s.cfg.BaseBackoff << min(attempt, 20)
	if d <= 0 || d > s.cfg.MaxBackoff {
		d = s.cfg.MaxBackoff
	}
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

// Key reads one key (describe-key) and its tags (ShowKmsTags) fresh.
func (s *Store) Key(ctx context.Context, id string) (handler.Record, error) {
	if err := checkKeyID(opDescribeKey, id); err != nil {
		return handler.Record{}, err
	}
	var info *model.KeyDetails
	err := s.do(ctx, opDescribeKey, id, func(c *v2.KmsClient) error {
		resp, err := c.ListKeyDetail(&model.ListKeyDetailRequest{Body: &model.OperateKeyRequestBody{KeyId: id}})
		if err != nil {
			return err
		}
		info = resp.KeyInfo
		return nil
	})
	if err != nil {
		return handler.Record{}, err
	}
	if info == nil || info.KeyId == nil || *info.KeyId == "" {
		return handler.Record{}, &Error{Op: opDescribeKey, KeyID: id, Kind: handler.ErrTransient, Hint: "unreadable response", Message: "no key_info in the response"}
	}
	k := fromModel(info).key()
	tags, err := s.Tags(ctx, id)
	if err != nil {
		return handler.Record{}, err
	}
	return handler.Record{Key: k, Tags: tags}, nil
}

// Tags reads the current tags of one key (ShowKmsTags). The map is never nil.
func (s *Store) Tags(ctx context.Context, id string) (map[string]string, error) {
	if err := checkKeyID(opShowTags, id); err != nil {
		return nil, err
	}
	var tags map[string]string
	err := s.do(ctx, opShowTags, id, func(c *v2.KmsClient) error {
		resp, err := c.ShowKmsTags(&model.ShowKmsTagsRequest{KeyId: id})
		if err != nil {
			return err
		}
		tags = make(map[string]string)
		if resp.Tags != nil {
			for _, t := range *resp.Tags {
				v := ""
				if t.Value != nil {
					v = *t.Value
				}
				tags[t.Key] = v
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return tags, nil
}

// Apply makes one BatchCreateKmsTags call with a fresh sequence. A batch the
// API would refuse (too long, a tag breaking the rules, an unknown action)
// is refused here with ErrInvalid and never sent. Deleting a tag that is
// already gone (KMS.0416) counts as done.
func (s *Store) Apply(ctx context.Context, id string, b policy.Batch) error {
	if err := checkKeyID(opTagsAction, id); err != nil {
		return err
	}
	if err := s.checkBatch(id, b); err != nil {
		return err
	}
	if len(b.Tags) == 0 {
		return nil
	}
	err := s.send(ctx, id, b)
	if err == nil || b.Action != policy.ActionDelete || !isTagNotFound(err) {
		return err
	}
	if len(b.Tags) == 1 {
		return nil
	}
	// One of several tags was missing and the call may have deleted none:
	// delete those still present.
	cur, terr := s.Tags(ctx, id)
	if terr != nil {
		return terr
	}
	rest := policy.Batch{Action: b.Action}
	for _, t := range b.Tags {
		if v, ok := cur[t.Key]; ok {
			rest.Tags = append(rest.Tags, policy.Tag{Key: t.Key, Value: v})
		}
	}
	if len(rest.Tags) == 0 {
		return nil
	}
	if err := s.send(ctx, id, rest); err != nil && !isTagNotFound(err) {
		return err
	}
	return nil
}

func (s *Store) send(ctx context.Context, id string, b policy.Batch) error {
	items := make([]model.TagItem, len(b.Tags))
	for i, t := range b.Tags {
		items[i] = model.TagItem{Key: t.Key, Value: &b.Tags[i].Value}
	}
	seq := uuid.NewString()
	return s.do(ctx, opTagsAction, id, func(c *v2.KmsClient) error {
		_, err := c.BatchCreateKmsTags(&model.BatchCreateKmsTagsRequest{KeyId: id,
			Body: &model.BatchCreateKmsTagsRequestBody{Action: string(b.Action), Tags: items, Sequence: &seq}})
		return err
	})
}

func isTagNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == "KMS.0416"
}

// checkKeyID refuses ids that cannot be a KMS key id (handler.ValidKeyID),
// locally: they would be put into the URL path as they are.
func checkKeyID(op, id string) error {
	if err := handler.ValidKeyID(id); err != nil {
		return &Error{Op: op, KeyID: id, Kind: handler.ErrInvalid, Hint: "malformed key id"}
	}
	return nil
}

// checkBatch applies the API's rules locally (BatchCreateKmsTags reference):
// action create or delete; at most MaxBatch tags, no duplicate keys; a key of
// 1..MaxKeyLen characters and a value of 0..MaxValueLen, neither containing
// ASCII 0-31, '*', '<', '>', '\' or '='; no reserved prefix.
func (s *Store) checkBatch(id string, b policy.Batch) error {
	bad := func(msg string, args ...any) error {
		return &Error{Op: opTagsAction, KeyID: id, Kind: handler.ErrInvalid, Hint: "refused locally, not sent", Message: fmt.Sprintf(msg, args...)}
	}
	if b.Action != policy.ActionCreate && b.Action != policy.ActionDelete {
		return bad("action %q is neither create nor delete", b.Action)
	}
	if len(b.Tags) > s.cfg.Limits.MaxBatch {
		return bad("%d tags in one call, the maximum is %d", len(b.Tags), s.cfg.Limits.MaxBatch)
	}
	seen := make(map[string]bool, len(b.Tags))
	for _, t := range b.Tags {
		if err := s.checkTag(t); err != nil {
			return bad("%v", err)
		}
		if seen[t.Key] {
			return bad("tag key %q appears twice", t.Key)
		}
		seen[t.Key] = true
	}
	return nil
}

// checkTag reports why a tag breaks the API's rules (policy.Limits), or nil.
func (s *Store) checkTag(t policy.Tag) error {
	if err := s.cfg.Limits.CheckKey(t.Key); err != nil {
		return err
	}
	return s.cfg.Limits.CheckValue(t.Value)
}

// Scope names the key set of the store for continuations: the endpoint
// and the project.
func (s *Store) Scope() string { return "kms " + s.endpoint + " project " + s.cred.ProjectId }
