package spec

import (
	"os/user"
	"strconv"
)

// UserName names uid from the user database (os/user): the one lookup the
// reconciler uses, for the box's owner and for the processes it observes.
func UserName(uid int) (string, error) {
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return "", err
	}
	return u.Username, nil
}
