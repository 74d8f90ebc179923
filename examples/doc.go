// Package examples holds the example Parachute box: programs that stand in
// for the hub (standin-hub) and its modules (standin-module) while honouring
// the hub's contracts, a tool that lays out and starts a detached-era box
// exactly as the old hub did (layout), build.sh to build them, an example
// spec file (spec.yaml), a crontab line (cron/) and a boot-time unit
// (boot/). Its tests check that those files stay valid.
//
// Nothing here is imported by the reconciler. The programs never signal a
// process they did not start, and layout never writes outside the
// directories it is given.
package examples
