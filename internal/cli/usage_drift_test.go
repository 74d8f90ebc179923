package cli

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// Every flag a command takes is in its usage line: the synopsis is written
// by hand (grouped, with the values a flag takes), and a flag added to a
// flag set without it is a usage line that lies by omission.
func TestUsageLinesNameEveryFlag(t *testing.T) {
	var walk func(c *command)
	walk = func(c *command) {
		for _, sub := range c.Commands {
			walk(sub)
		}
		if c.Run == nil {
			return
		}
		c.flagSet(&options{}).VisitAll(func(f *pflag.Flag) {
			if f.Hidden || f.Name == "help" {
				return
			}
			if !strings.Contains(c.UsageLine, "--"+f.Name) {
				t.Errorf("%q: usage line lacks --%s:\n%s", c.longName(), f.Name, c.UsageLine)
			}
		})
	}
	walk(root)
}
