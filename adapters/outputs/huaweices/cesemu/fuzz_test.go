package cesemu_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/tagwarden/tagwarden/adapters/outputs/huaweices/cesemu"
)

// FuzzDecode: the decoder never panics, refuses with a status and a CES
// code, and what it accepts encodes back to a body it accepts the same.
func FuzzDecode(f *testing.F) {
	now := time.UnixMilli(1_700_000_000_000)
	ms := now.UnixMilli()
	for _, s := range []string{
		``, `[]`, `{}`, `[{}]`, `[null]`, `[{"ttl":1,"ttl":2}]`,
		`[{"metric":{"namespace":"A.b","metric_name":"m","dimensions":[{"name":"d","value":"v"}]},"ttl":1,"collect_time":1700000000000,"value":1}]`,
		`[{"metric":{"namespace":"A.b","metric_name":"m","dimensions":[{"name":"d","value":"v"}]},"ttl":"1","collect_time":1700000000000,"value":1.5,"type":"int"}]`,
		`[{"metric":{"namespace":"SYS.b","metric_name":"m","dimensions":[{"name":"d","value":"v"}]},"ttl":1,"collect_time":1700000000000,"value":-0,"unit":"%"}]`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		pts, err := cesemu.Decode(body, now, 0)
		if err != nil {
			if pts != nil {
				t.Fatal("points with an error")
			}
			return
		}
		if len(pts) == 0 {
			t.Fatal("accepted an empty request")
		}
		// Encode the points back and decode them again.
		var items []map[string]any
		for _, p := range pts {
			if p.CollectTime.UnixMilli() < ms-int64(cesemu.MaxCollectAge/time.Millisecond) || p.TTL < cesemu.MinTTL || p.TTL > cesemu.MaxTTL {
				t.Fatalf("accepted a point out of bounds: %+v", p)
			}
			dims := make([]map[string]string, len(p.Dimensions))
			for i, d := range p.Dimensions {
				dims[i] = map[string]string{"name": d.Name, "value": d.Value}
			}
			it := map[string]any{"metric": map[string]any{"namespace": p.Namespace, "metric_name": p.Metric, "dimensions": dims},
				"ttl": p.TTL, "collect_time": p.CollectTime.UnixMilli(), "value": p.Value}
			if p.Unit != "" {
				it["unit"] = p.Unit
			}
			if p.Type != "" {
				it["type"] = p.Type
			}
			items = append(items, it)
		}
		again, err := json.Marshal(items)
		if err != nil {
			t.Fatal(err)
		}
		pts2, err := cesemu.Decode(again, now, 0)
		if err != nil {
			t.Fatalf("re-encoded body %s refused: %v", again, err)
		}
		if !reflect.DeepEqual(pts, pts2) {
			t.Fatalf("round trip changed the points:\n%+v\n%+v", pts, pts2)
		}
	})
}
