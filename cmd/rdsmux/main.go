// Command rdsmux runs the rdsmux MySQL-protocol listener standalone.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "rdsmux: the standalone listener is not built yet (see issue 8)")
	os.Exit(2)
}
