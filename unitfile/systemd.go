package unitfile

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"

	"github.com/coreos/go-systemd/v22/unit"
)

// Fixed values of the systemd hub unit (docs/upstream-hub.md §5.3).
const (
	systemdDescription = "Parachute hub (serve + supervisor)"
	// logComment is the second header line: the one deliberate departure from
	// the hub's unit text a reader of the file should know about.
	logComment = "Output is appended to PARACHUTE_HOME/hub/logs/hub.log (read by `parachute logs`), not sent to the journal."
)

// maxLine is the longest line (without its newline) that
// unit.DeserializeOptions reads back: it rejects a line whose 2048-byte
// window holds no newline. systemd itself reads lines up to 1 MiB.
const maxLine = unit.SYSTEMD_LINE_MAX - 1

// RenderSystemd renders the hub's systemd unit: the hub's own unit text
// (docs/upstream-hub.md §5.3) with its latent bugs corrected:
//
//   - StartLimitIntervalSec=300 and StartLimitBurst=5 sit in [Unit], where
//     systemd reads them (in [Service] the interval is an unknown key and the
//     300 s window is silently lost);
//   - ExecStart= and Environment= values are quoted and escaped as systemd
//     parses them (a path with spaces, quotes or '%' survives), with '%'
//     doubled everywhere specifiers are expanded and '$' doubled in ExecStart
//     arguments, so no value can inject a line, an assignment or a variable;
//   - stdout and stderr are appended to <HOME>/hub/logs/hub.log
//     (StandardOutput=append:, StandardError=append:), the file the detached
//     hub and the launchd agent write and the TypeScript CLI's `parachute
//     logs` reads. The cost: the hub's own output is not in the journal;
//     `journalctl -u parachute-hub.service` shows only systemd's lines
//     (starts, exits, restarts). The log directory must exist before start.
//
// Values that cannot be represented — control characters (newline, tab,
// NUL, …), invalid UTF-8, '$' or a quote in the executable path, a relative
// path — are rejected with an error naming the field and wrapping
// ErrUnrepresentable.
func RenderSystemd(h Hub) ([]byte, error) {
	if err := h.check(); err != nil {
		return nil, fmt.Errorf("render systemd unit: %w", err)
	}
	env, err := h.environment()
	if err != nil {
		return nil, fmt.Errorf("render systemd unit: %w", err)
	}
	opts := []*unit.UnitOption{
		unit.NewUnitOption("Unit", "Description", systemdDescription),
		unit.NewUnitOption("Unit", "After", "network-online.target"),
		unit.NewUnitOption("Unit", "Wants", "network-online.target"),
		unit.NewUnitOption("Unit", "StartLimitIntervalSec", "300"),
		unit.NewUnitOption("Unit", "StartLimitBurst", "5"),
		unit.NewUnitOption("Service", "Type", "simple"),
	}
	if h.SystemUnit && h.User.Name != "" {
		if err := checkUserName(h.User.Name); err != nil {
			return nil, fmt.Errorf("render systemd unit: %w", err)
		}
		opts = append(opts, unit.NewUnitOption("Service", "User", h.User.Name))
	}
	for _, e := range env {
		v, err := QuoteEnvironment(e.Name, e.Value)
		if err != nil {
			return nil, fmt.Errorf("render systemd unit: %w", err)
		}
		opts = append(opts, unit.NewUnitOption("Service", "Environment", v))
	}
	exec, err := QuoteExecStart(h.Command)
	if err != nil {
		return nil, fmt.Errorf("render systemd unit: %w", err)
	}
	logOut := "append:" + EscapeSpecifiers(LogPath(h.Home))
	opts = append(opts,
		unit.NewUnitOption("Service", "ExecStart", exec),
		unit.NewUnitOption("Service", "Restart", "always"),
		unit.NewUnitOption("Service", "RestartSec", "5"),
		unit.NewUnitOption("Service", "StandardOutput", logOut),
		unit.NewUnitOption("Service", "StandardError", logOut),
	)
	wantedBy := "default.target"
	if h.SystemUnit {
		wantedBy = "multi-user.target"
	}
	opts = append(opts, unit.NewUnitOption("Install", "WantedBy", wantedBy))

	var buf bytes.Buffer
	// unit.Serialize cannot write comments: the header goes in front.
	buf.WriteString("# " + Header + "\n# " + logComment + "\n")
	if _, err := io.Copy(&buf, unit.Serialize(opts)); err != nil {
		return nil, fmt.Errorf("render systemd unit: %w", err)
	}
	for _, o := range opts {
		if n := len(o.Name) + 1 + len(o.Value); n > maxLine {
			return nil, fmt.Errorf("render systemd unit: %s= line is %d bytes, longer than the %d a unit line may have: %w", o.Name, n, maxLine, ErrUnrepresentable)
		}
	}
	return buf.Bytes(), nil
}

// EscapeSpecifiers doubles every '%', so that systemd's specifier expansion
// (%h, %u, … in ExecStart=, Environment=, StandardOutput=append: and most
// other settings) gives the text back unchanged.
func EscapeSpecifiers(s string) string { return strings.ReplaceAll(s, "%", "%%") }

// QuoteExecStart renders argv as an ExecStart= value that systemd splits back
// into exactly argv (systemd.service(5) "Command lines"): each word is left
// bare when it is made only of safe characters, otherwise double-quoted
// with '\' and '"' backslash-escaped; '%' becomes "%%" (specifiers) and, in
// arguments, '$' becomes "$$" (environment variable substitution). argv[0]
// must be an absolute path without quotes, backslashes or '$' (systemd
// refuses the first two in an executable name, and does not substitute
// variables in the path it executes, only in argv[0]).
func QuoteExecStart(argv []string) (string, error) {
	if len(argv) == 0 {
		return "", fmt.Errorf("hub command: empty")
	}
	if !strings.HasPrefix(argv[0], "/") {
		return "", fmt.Errorf("hub command: executable %q is not an absolute path: %w", argv[0], ErrUnrepresentable)
	}
	if strings.ContainsAny(argv[0], "\"'\\$") {
		return "", fmt.Errorf("hub command: executable %q contains a quote, backslash or '$', which systemd cannot run: %w", argv[0], ErrUnrepresentable)
	}
	words := make([]string, len(argv))
	for i, a := range argv {
		field := "hub command argument " + strconv.Itoa(i)
		if err := checkText(field, a); err != nil {
			return "", err
		}
		a = EscapeSpecifiers(a)
		if i > 0 {
			a = strings.ReplaceAll(a, "$", "$$")
		}
		words[i] = quoteWord(a)
	}
	return strings.Join(words, " "), nil
}

// QuoteEnvironment renders one Environment= value assigning value to name,
// which systemd reads back as exactly one assignment name=value
// (systemd.exec(5) Environment=): bare when safe, else double-quoted as a
// whole with '\' and '"' escaped; '%' doubled. Environment= does not expand
// '$'.
func QuoteEnvironment(name, value string) (string, error) {
	if !validEnvName(name) {
		return "", fmt.Errorf("env name %q: not a valid variable name: %w", name, ErrUnrepresentable)
	}
	if err := checkText("env "+name, value); err != nil {
		return "", err
	}
	return quoteWord(EscapeSpecifiers(name + "=" + value)), nil
}

// quoteWord returns w unchanged when every byte is safe outside quotes, else
// w in double quotes with backslash and double quote escaped. Inside double
// quotes systemd takes everything else literally (spaces, ';', '#', single
// quotes, UTF-8).
func quoteWord(w string) string {
	if w != "" && isBare(w) {
		return w
	}
	var b strings.Builder
	b.Grow(len(w) + 2)
	b.WriteByte('"')
	for i := 0; i < len(w); i++ {
		switch c := w[i]; c {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// isBare reports whether w can be written without quotes: ASCII letters,
// digits and / . _ - + = : , @ % $ (the last two are already doubled).
func isBare(w string) bool {
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("/._-+=:,@%$", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// checkUserName accepts what systemd's User= takes in its relaxed mode and
// cannot be misread: no whitespace, control characters, ':', '/', '%',
// quotes or backslash, no Unicode space, not starting with '-', '+' or '~', not "." or "..".
func checkUserName(name string) error {
	if err := checkText("hub user name", name); err != nil {
		return err
	}
	if name == "." || name == ".." || strings.ContainsAny(name[:1], "-+~") ||
		strings.ContainsAny(name, " :/%\"'\\") || strings.IndexFunc(name, unicode.IsSpace) >= 0 || len(name) > 256 {
		return fmt.Errorf("hub user name %q: not a name systemd's User= accepts: %w", name, ErrUnrepresentable)
	}
	return nil
}
