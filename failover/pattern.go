package failover

import (
	"fmt"
	"net"
	"strings"
)

// rdsDomains are the DNS suffixes of RDS endpoints, longest first.
var rdsDomains = []string{".rds.amazonaws.com.cn", ".rds.amazonaws.com"}

// clusterPrefixes are the prefixes of the second label of Aurora cluster
// endpoints (writer, reader and custom endpoints), longest first.
var clusterPrefixes = []string{"cluster-custom-", "cluster-ro-", "cluster-"}

// HostPatternFromEndpoint derives the host pattern of a cluster's instances
// from one of its endpoints: "mycluster.cluster-abc.us-east-1.rds.amazonaws.com"
// (or its cluster-ro-/cluster-custom- variants, or an instance endpoint
// "db-1.abc.us-east-1.rds.amazonaws.com") gives
// "?.abc.us-east-1.rds.amazonaws.com". A port, when given, is kept.
//
// It fails for names that are not RDS endpoints (and for RDS Proxy
// endpoints, which do not address instances); configure the pattern
// explicitly then.
func HostPatternFromEndpoint(endpoint string) (string, error) {
	host, port := endpoint, ""
	if h, p, err := net.SplitHostPort(endpoint); err == nil {
		host, port = h, p
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	domain := ""
	for _, d := range rdsDomains {
		if strings.HasSuffix(host, d) {
			domain = d
			break
		}
	}
	if domain == "" {
		return "", fmt.Errorf("failover: %q is not an RDS endpoint (*.rds.amazonaws.com); set the instance host pattern explicitly", endpoint)
	}
	labels := strings.Split(strings.TrimSuffix(host, domain), ".")
	// name, cluster id, region
	if len(labels) != 3 {
		return "", fmt.Errorf("failover: %q does not look like <name>.<cluster-id>.<region>%s; set the instance host pattern explicitly", endpoint, domain)
	}
	for _, l := range labels {
		if !validLabel(l) {
			return "", fmt.Errorf("failover: %q has an invalid DNS label %q; set the instance host pattern explicitly", endpoint, l)
		}
	}
	id := labels[1]
	if strings.HasPrefix(id, "proxy-") {
		return "", fmt.Errorf("failover: %q is an RDS Proxy endpoint, which does not address instances; use the cluster endpoint or set the instance host pattern", endpoint)
	}
	for _, p := range clusterPrefixes {
		if strings.HasPrefix(id, p) {
			id = strings.TrimPrefix(id, p)
			break
		}
	}
	if !validLabel(id) {
		return "", fmt.Errorf("failover: %q has no cluster id after the endpoint prefix; set the instance host pattern explicitly", endpoint)
	}
	pattern := "?." + id + "." + labels[2] + domain
	if port != "" {
		pattern = net.JoinHostPort(pattern, port)
	}
	return pattern, nil
}

// validLabel reports whether l is a non-empty DNS label of letters, digits
// and inner hyphens.
func validLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// checkHostPattern validates an instance host pattern: exactly one "?".
func checkHostPattern(pattern string) error {
	if strings.Count(pattern, "?") != 1 {
		return fmt.Errorf("failover: host pattern %q must contain exactly one '?' (replaced by the instance id), e.g. \"?.abc.us-east-1.rds.amazonaws.com\"", pattern)
	}
	return nil
}

// InstanceAddr builds an instance's address from a host pattern and its
// server id: "?" is replaced by the id and defaultPort is added when the
// pattern has no port. The id must be a DNS label (letters, digits,
// hyphens; Aurora instance identifiers are), so that a topology row cannot
// steer the dialer to an unrelated host.
func InstanceAddr(pattern, serverID string, defaultPort int) (string, error) {
	if err := checkHostPattern(pattern); err != nil {
		return "", err
	}
	if !validLabel(strings.ToLower(serverID)) {
		return "", fmt.Errorf("failover: server id %q is not a valid instance identifier", serverID)
	}
	return withDefaultPort(strings.Replace(pattern, "?", serverID, 1), defaultPort), nil
}
