package integrations_test

import (
	"net/http"
	"net/url"
	"reflect"

	"github.com/google/go-cmp/cmp"

	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

// sameFuncs compares a Config's hooks by identity: two configs are equal when
// they use the same classifier and key functions (or none).
var sameFuncs = cmp.Options{
	cmp.Comparer(func(a, b func(clock.Clock) signal.Classifier) bool { return samePointer(a, b) }),
	cmp.Comparer(func(a, b func(*http.Request) string) bool { return samePointer(a, b) }),
	cmp.Comparer(func(a, b func(string, policy.AIMD) policy.AIMD) bool { return samePointer(a, b) }),
	cmp.Comparer(func(a, b func(*url.URL) bool) bool { return samePointer(a, b) }),
}

func samePointer(a, b any) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	if va.IsNil() || vb.IsNil() {
		return va.IsNil() == vb.IsNil()
	}
	return va.Pointer() == vb.Pointer()
}
