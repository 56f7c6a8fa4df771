package selfinvoke_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/adapters/selfinvoke"
)

const project = "0b1f2e3d4c5b6a79887766554433221a"

func TestParseURN(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("n", 200)
	tests := []struct {
		name    string
		in      string
		want    selfinvoke.URN
		wantErr string // a part of the error; "" for none
		// notInErr must not appear in the error: the input beyond the bad part.
		notInErr string
	}{
		{name: "latest", in: "urn:fss:ap-southeast-3:" + project + ":function:default:tagwarden:latest",
			want: selfinvoke.URN{Region: "ap-southeast-3", ProjectID: project, Package: "default", Name: "tagwarden", Version: "latest"}},
		{name: "alias", in: "urn:fss:cn-north-4:" + project + ":function:ops:tag_warden-2:prod",
			want: selfinvoke.URN{Region: "cn-north-4", ProjectID: project, Package: "ops", Name: "tag_warden-2", Version: "prod"}},
		{name: "published version", in: "urn:fss:eu-west-101:" + project + ":function:default:tagwarden:v20261201-1",
			want: selfinvoke.URN{Region: "eu-west-101", ProjectID: project, Package: "default", Name: "tagwarden", Version: "v20261201-1"}},
		{name: "region with a city", in: "urn:fss:my-kualalumpur-1:" + project + ":function:default:f:latest",
			want: selfinvoke.URN{Region: "my-kualalumpur-1", ProjectID: project, Package: "default", Name: "f", Version: "latest"}},
		{name: "empty", in: "", wantErr: "1 colon-separated parts, want 8"},
		{name: "no version", in: "urn:fss:ap-southeast-3:" + project + ":function:default:tagwarden", wantErr: "7 colon-separated parts"},
		{name: "extra part", in: "urn:fss:ap-southeast-3:" + project + ":function:default:tagwarden:latest:x", wantErr: "9 colon-separated parts"},
		{name: "not fss", in: "urn:fgs:ap-southeast-3:" + project + ":function:default:tagwarden:latest", wantErr: `starts with "urn:fgs", want urn:fss`, notInErr: project},
		{name: "not a function", in: "urn:fss:ap-southeast-3:" + project + ":trigger:default:tagwarden:latest", wantErr: `resource type "trigger"`, notInErr: project},
		{name: "bad region", in: "urn:fss:Southeast:" + project + ":function:default:tagwarden:latest", wantErr: `the region "Southeast" is not valid`, notInErr: project},
		{name: "short project", in: "urn:fss:ap-southeast-3:0b1f2e:function:default:tagwarden:latest", wantErr: `the project id "0b1f2e" is not valid`, notInErr: "tagwarden"},
		{name: "upper-case project", in: "urn:fss:ap-southeast-3:" + strings.ToUpper(project) + ":function:default:tagwarden:latest", wantErr: "the project id", notInErr: "tagwarden"},
		{name: "empty package", in: "urn:fss:ap-southeast-3:" + project + ":function::tagwarden:latest", wantErr: "the package is empty"},
		{name: "name starts with a digit", in: "urn:fss:ap-southeast-3:" + project + ":function:default:1tagwarden:latest", wantErr: `the function name "1tagwarden" is not valid`, notInErr: project},
		{name: "name with a slash", in: "urn:fss:ap-southeast-3:" + project + ":function:default:tag/warden:latest", wantErr: `the function name "tag/warden"`},
		{name: "long name clipped", in: "urn:fss:ap-southeast-3:" + project + ":function:default:" + long + ":latest", wantErr: "the function name", notInErr: long},
		{name: "empty version", in: "urn:fss:ap-southeast-3:" + project + ":function:default:tagwarden:", wantErr: "the version is empty"},
		{name: "version with a space", in: "urn:fss:ap-southeast-3:" + project + ":function:default:tagwarden:la test", wantErr: `the version "la test"`, notInErr: project},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := selfinvoke.ParseURN(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one with %q", err, tt.wantErr)
				}
				if tt.notInErr != "" && strings.Contains(err.Error(), tt.notInErr) {
					t.Errorf("got error %q, want it without %q", err, tt.notInErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("URN (-want +got):\n%s", diff)
			}
			if s := got.String(); s != tt.in {
				t.Errorf("got String %q, want %q", s, tt.in)
			}
		})
	}
}

func TestURNFromRuntime(t *testing.T) {
	t.Parallel()
	full := map[string]string{
		"RUNTIME_PROJECT_ID": project, "RUNTIME_PACKAGE": "default",
		"RUNTIME_FUNC_NAME": "tagwarden", "RUNTIME_FUNC_VERSION": "latest",
	}
	without := func(names ...string) map[string]string {
		m := map[string]string{}
		for k, v := range full {
			m[k] = v
		}
		for _, n := range names {
			delete(m, n)
		}
		return m
	}
	with := func(k, v string) map[string]string {
		m := without()
		m[k] = v
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		region  string
		want    string
		wantErr string
	}{
		{name: "complete", env: full, region: "ap-southeast-3", want: "urn:fss:ap-southeast-3:" + project + ":function:default:tagwarden:latest"},
		{name: "alias and spaces", env: with("RUNTIME_FUNC_VERSION", " prod "), region: " la-south-2 ", want: "urn:fss:la-south-2:" + project + ":function:default:tagwarden:prod"},
		{name: "nothing set", env: map[string]string{}, region: "ap-southeast-3",
			wantErr: "lacks RUNTIME_PROJECT_ID, RUNTIME_PACKAGE, RUNTIME_FUNC_NAME, RUNTIME_FUNC_VERSION"},
		{name: "no version", env: without("RUNTIME_FUNC_VERSION"), region: "ap-southeast-3", wantErr: "lacks RUNTIME_FUNC_VERSION"},
		{name: "no project nor name", env: without("RUNTIME_PROJECT_ID", "RUNTIME_FUNC_NAME"), region: "ap-southeast-3",
			wantErr: "lacks RUNTIME_PROJECT_ID, RUNTIME_FUNC_NAME"},
		{name: "no region", env: full, region: "", wantErr: "no region"},
		{name: "bad project", env: with("RUNTIME_PROJECT_ID", "my-project"), region: "ap-southeast-3", wantErr: `the project id "my-project" is not valid`},
		{name: "bad region", env: full, region: "ap_southeast_3", wantErr: `the region "ap_southeast_3"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := selfinvoke.URNFromRuntime(func(k string) string { return tt.env[k] }, tt.region)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if got.String() != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestParseLambdaFunction(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    selfinvoke.LambdaFunction
		wantErr string
	}{
		{in: "tagwarden", want: selfinvoke.LambdaFunction{Name: "tagwarden"}},
		{in: "tagwarden:live", want: selfinvoke.LambdaFunction{Name: "tagwarden", Qualifier: "live"}},
		{in: "tagwarden:$LATEST", want: selfinvoke.LambdaFunction{Name: "tagwarden", Qualifier: "$LATEST"}},
		{in: "123456789012:function:tagwarden", want: selfinvoke.LambdaFunction{AccountID: "123456789012", Name: "tagwarden"}},
		{in: "arn:aws:lambda:eu-west-1:123456789012:function:tag-warden.v2:7",
			want: selfinvoke.LambdaFunction{Partition: "aws", Region: "eu-west-1", AccountID: "123456789012", Name: "tag-warden.v2", Qualifier: "7"}},
		{in: "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:tagwarden",
			want: selfinvoke.LambdaFunction{Partition: "aws-us-gov", Region: "us-gov-west-1", AccountID: "123456789012", Name: "tagwarden"}},
		{in: "", wantErr: "0 characters"},
		{in: "tag warden", wantErr: "want a name"},
		{in: "arn:aws:lambda:eu-west-1:123456789012:tagwarden", wantErr: "an ARN needs"},
		{in: "123456789012:tagwarden", wantErr: "a partial ARN"},
		{in: "arn:aws:s3:::bucket", wantErr: "want a name"},
		{in: strings.Repeat("f", 65), wantErr: "at most 64"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := selfinvoke.ParseLambdaFunction(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %+v, %v, want an error with %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzParseURN: a URN that parses prints back as given; an error never
// quotes more than one clipped part of the input.
func FuzzParseURN(f *testing.F) {
	f.Add("urn:fss:ap-southeast-3:" + project + ":function:default:tagwarden:latest")
	f.Add("urn:fss:cn-north-4:" + project + ":function:ops:f:prod")
	f.Add("urn:fss::::::")
	f.Add(strings.Repeat(":", 7) + strings.Repeat("x", 300))
	f.Fuzz(func(t *testing.T, s string) {
		u, err := selfinvoke.ParseURN(s)
		if err != nil {
			if len(err.Error()) > 300 {
				t.Errorf("got an error of %d bytes for an input of %d: %q", len(err.Error()), len(s), err)
			}
			return
		}
		if u.String() != s {
			t.Errorf("got String %q, want the input %q", u.String(), s)
		}
	})
}

// FuzzParseLambdaFunction: a name that parses has a name of at most 64
// characters, and a full ARN has its region and account ("arn:0" is the
// function arn, qualifier 0).
func FuzzParseLambdaFunction(f *testing.F) {
	f.Add("tagwarden")
	f.Add("arn:aws:lambda:eu-west-1:123456789012:function:tagwarden:live")
	f.Add("123456789012:function:tagwarden")
	f.Fuzz(func(t *testing.T, s string) {
		fn, err := selfinvoke.ParseLambdaFunction(s)
		if err != nil {
			return
		}
		if fn.Name == "" || len(fn.Name) > 64 || !strings.Contains(s, fn.Name) {
			t.Errorf("got name %q from %q", fn.Name, s)
		}
		if strings.HasPrefix(s, "arn:aws:lambda:") && (fn.Region == "" || fn.AccountID == "") {
			t.Errorf("got %+v from the ARN %q, want its region and account", fn, s)
		}
	})
}
