package iamauth

import "strings"

// rdsSuffixes are the partition DNS suffixes that follow the "rds" label in
// RDS endpoint names.
var rdsSuffixes = []string{
	"amazonaws.com",
	"amazonaws.com.cn",
	"c2s.ic.gov",
	"sc2s.sgov.gov",
}

// RegionFromHost returns the AWS region named in an RDS endpoint host name,
// such as "us-east-1" for "mydb.cluster-abc123.us-east-1.rds.amazonaws.com",
// and false for any other host (an IP address, a custom DNS name). Instance,
// cluster, reader, custom and proxy endpoints in the commercial, China and
// GovCloud partitions are recognised.
func RegionFromHost(host string) (string, bool) {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	for _, suf := range rdsSuffixes {
		rest, ok := strings.CutSuffix(host, ".rds."+suf)
		if !ok {
			continue
		}
		i := strings.LastIndexByte(rest, '.')
		if i <= 0 { // need at least one label before the region
			return "", false
		}
		region := rest[i+1:]
		if !validRegion(region) {
			return "", false
		}
		return region, true
	}
	return "", false
}

// validRegion checks the shape of a region name: lowercase letter groups
// separated by '-', ending in a number, e.g. "us-gov-west-1".
func validRegion(s string) bool {
	parts := strings.Split(s, "-")
	if len(parts) < 3 {
		return false
	}
	for i, p := range parts {
		if p == "" {
			return false
		}
		last := i == len(parts)-1
		for j := 0; j < len(p); j++ {
			c := p[j]
			if last && (c < '0' || c > '9') || !last && (c < 'a' || c > 'z') {
				return false
			}
		}
	}
	return true
}
