package proxy_test

import (
	"fmt"

	"github.com/rdsmux/rdsmux/proxy"
)

// A Server whose users change while it runs: Store the new list (after
// reading it again, on SIGHUP for example); clients already connected stay
// connected, the next logins see the new users.
func ExampleReloadableUsers() {
	users := proxy.NewReloadableUsers(proxy.StaticUsers{"app": "pw1", "old": "x"})
	srv := &proxy.Server{Users: users /* , Pool: ..., */}
	_ = srv

	change := users.Store(proxy.StaticUsers{"app": "pw2", "report": "r"})
	fmt.Println("added", change.Added, "removed", change.Removed, "changed", change.Changed)
	// Output:
	// added [report] removed [old] changed [app]
}
