# init.sh — the inside half of the sandbox (see doc.go and docs/systemd-sandbox.md).
#
# Run by sandbox.Boot as PID 1 of fresh pid, mount, uts, ipc and net
# namespaces (`unshare --fork --pid --mount-proc --mount --uts --ipc --net
# --propagation private`), with this text in $SANDBOX_INIT, the host's mount
# namespace (readlink /proc/self/ns/mnt) in $SANDBOX_HOST_MNTNS, and arguments
#   stage1 CGROUP_DIR WORK_DIR HOSTNAME
# where CGROUP_DIR is the instance's empty cgroup2 directory as the host sees
# it. It ends by exec'ing systemd, so systemd keeps PID 1 (the host pid the
# harness recorded). Every change below lands in a private mount or in a
# private namespace; nothing outside CGROUP_DIR and WORK_DIR is written.
set -eu

stage=$1 cg=$2 work=$3 name=$4
say() { echo "sandbox-init: $*" >&2; }

if [ "$stage" = stage1 ]; then
	# Move into the instance cgroup, then root a cgroup namespace there, so
	# systemd sees a cgroup2-only hierarchy (unified mode) and owns all of it.
	# The unshare parent on the host side stays in the caller's cgroup.
	echo 0 >"$cg/cgroup.procs"
	exec unshare --cgroup -- /bin/sh -c "$SANDBOX_INIT" sandbox-init stage2 "$cg" "$work" "$name"
fi

# Refuse to touch anything unless this really is a fresh PID 1 in a mount
# namespace other than the host's (Boot passes the host's in the
# environment): every mount below would otherwise land on the host.
if [ "$$" != 1 ] || [ -z "${SANDBOX_HOST_MNTNS:-}" ] ||
	[ "$(readlink /proc/self/ns/mnt)" = "$SANDBOX_HOST_MNTNS" ]; then
	say "not PID 1 of private namespaces: refusing to mount anything"
	exit 1
fi

# A staging tmpfs under a fresh /run; everything private is built there and
# moved or bound into place, so no path is ever half-mounted.
mount -t tmpfs -o mode=0755,nosuid,nodev,size=64m tmpfs /run
st=/run/.sandbox-stage
mkdir -p "$st"
mount -t tmpfs -o mode=0755 tmpfs "$st"

# The work directory must stay visible at the same path even when it lies
# under a tree that is about to become private (/tmp, /var/tmp, /home).
keep_work=
case "$work" in
/tmp/* | /var/tmp/* | /home/*)
	keep_work=1
	mkdir "$st/work"
	mount --bind "$work" "$st/work"
	;;
esac

# A minimal /dev, built in the stage and moved into place: mounting an empty
# tmpfs on /dev first lets a stray regular file appear as /dev/null.
d=$st/dev
mkdir "$d"
mount -t tmpfs -o mode=0755,nosuid,size=4m tmpfs "$d"
mknod -m 666 "$d/null" c 1 3
mknod -m 666 "$d/zero" c 1 5
mknod -m 666 "$d/full" c 1 7
mknod -m 666 "$d/random" c 1 8
mknod -m 666 "$d/urandom" c 1 9
mknod -m 666 "$d/tty" c 5 0
mkdir "$d/pts" "$d/shm" "$d/mqueue"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5,nosuid,noexec devpts "$d/pts"
ln -s pts/ptmx "$d/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev,size=64m tmpfs "$d/shm"
ln -s /proc/self/fd "$d/fd"
ln -s /proc/self/fd/0 "$d/stdin"
ln -s /proc/self/fd/1 "$d/stdout"
ln -s /proc/self/fd/2 "$d/stderr"
mount --move "$d" /dev

# Fresh read-only sysfs (for this net namespace) and the instance's cgroup2
# tree, seen from inside the cgroup namespace as the whole hierarchy.
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs /sys
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup

# Private scratch trees.
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /var/tmp
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /home
if [ -d /var/log/journal ]; then
	mount -t tmpfs -o mode=2755,nosuid,nodev tmpfs /var/log/journal
fi
if [ -n "$keep_work" ]; then
	mkdir -p "$work"
	mount --move "$st/work" "$work"
fi

# Copies of systemd's configuration and state. /etc/systemd/system and
# /etc/systemd/user start empty: nothing enabled on the host is pulled in and
# every unit a test installs stays inside.
for dir in /etc/systemd /var/lib/systemd; do
	c=$st/copy
	mkdir "$c"
	mount -t tmpfs -o mode=0755 tmpfs "$c"
	if [ -d "$dir" ]; then cp -a "$dir/." "$c/"; else mkdir -p "$dir"; fi
	mount --move "$c" "$dir"
	rmdir "$c"
done
# Never empty the host's directories: only proceed on the private copies.
mountpoint -q /etc/systemd && mountpoint -q /var/lib/systemd || {
	say "private copies of /etc/systemd and /var/lib/systemd are not mounted"
	exit 1
}
rm -rf /etc/systemd/system /etc/systemd/user /etc/systemd/system-generators
mkdir -p /etc/systemd/system /etc/systemd/user /etc/systemd/system-generators

# A private copy of polkit's local rules, when the host has the directory
# (never made here: that would be a write to the host): a test may add a
# rule, which polkitd inside reads, and which must not reach the host's.
if [ -d /etc/polkit-1/rules.d ]; then
	c=$st/polkit
	mkdir "$c"
	mount -t tmpfs -o mode=0700 tmpfs "$c"
	cp -a /etc/polkit-1/rules.d/. "$c/"
	chown --reference=/etc/polkit-1/rules.d "$c"
	chmod --reference=/etc/polkit-1/rules.d "$c"
	mount --move "$c" /etc/polkit-1/rules.d
	rmdir "$c"
fi

# Private copies of the files a test may change (AddUser appends to the
# account files in place: a bind-mounted file cannot be replaced by rename).
e=$st/etc
mkdir "$e"
mount -t tmpfs -o mode=0755 tmpfs "$e"
tr -d - </proc/sys/kernel/random/uuid >"$e/machine-id"
echo "$name" >"$e/hostname"
for f in machine-id hostname passwd group shadow gshadow; do
	if [ "$f" != machine-id ] && [ "$f" != hostname ]; then
		if [ ! -e "/etc/$f" ]; then continue; fi
		cp -p "/etc/$f" "$e/$f"
	fi
	if [ -e "/etc/$f" ]; then
		mount --bind "$e/$f" "/etc/$f"
	fi
done
chmod 0444 "$e/machine-id"
hostname "$name"

# Mask every unit that would touch the shared kernel, clock or disks, and
# everything that waits for a network this namespace never gets.
m=/etc/systemd/system
for u in \
	systemd-sysctl.service systemd-binfmt.service \
	proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount \
	systemd-modules-load.service kmod-static-nodes.service \
	systemd-remount-fs.service systemd-quotacheck.service quotaon.service \
	systemd-repart.service systemd-growfs-root.service \
	systemd-random-seed.service systemd-timesyncd.service \
	systemd-time-wait-sync.service systemd-pstore.service \
	systemd-firstboot.service systemd-sysusers.service \
	systemd-machine-id-commit.service systemd-update-done.service \
	ldconfig.service systemd-journald-audit.socket \
	sys-kernel-debug.mount sys-kernel-tracing.mount sys-kernel-config.mount \
	sys-fs-fuse-connections.mount dev-hugepages.mount \
	systemd-udevd.service systemd-udevd-control.socket \
	systemd-udevd-kernel.socket systemd-udev-trigger.service \
	systemd-udev-settle.service \
	systemd-networkd.service systemd-networkd.socket \
	systemd-networkd-wait-online.service systemd-network-generator.service \
	systemd-resolved.service systemd-rfkill.service systemd-rfkill.socket \
	e2scrub_all.service e2scrub_all.timer e2scrub_reap.service \
	fstrim.service fstrim.timer getty.target console-getty.service; do
	ln -s /dev/null "$m/$u"
done
for f in /lib/systemd/system/systemd-fsck* /lib/systemd/system/systemd-pcrphase* \
	/lib/systemd/system/systemd-update-utmp* \
	/lib/systemd/system/systemd-networkd-wait-online@*; do
	[ -e "$f" ] || continue
	u=${f##*/}
	[ -e "$m/$u" ] || ln -s /dev/null "$m/$u"
done
for g in /usr/local/lib/systemd/system-generators/* /lib/systemd/system-generators/* \
	/etc/systemd/system-generators/*; do
	[ -e "$g" ] || continue
	n=${g##*/}
	[ "$n" = systemd-debug-generator ] && continue
	ln -sf /dev/null "/etc/systemd/system-generators/$n"
done

# systemd-tmpfiles may only touch the private trees.
tmpfiles_prefixes="--prefix=/run --prefix=/tmp --prefix=/var/tmp --prefix=/var/log/journal --prefix=/var/lib/systemd --prefix=/home"
for svc in systemd-tmpfiles-setup systemd-tmpfiles-clean; do
	mkdir -p "$m/$svc.service.d"
	case $svc in
	*setup) args="--create --remove --boot" ;;
	*) args="--clean" ;;
	esac
	printf '[Service]\nExecStart=\nExecStart=systemd-tmpfiles %s %s\n' "$args" "$tmpfiles_prefixes" \
		>"$m/$svc.service.d/sandbox.conf"
done

# /proc/sys read-only except this namespace's own /proc/sys/net.
mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro,nosuid,nodev,noexec /proc/sys
mount --bind /proc/sys/net /proc/sys/net
mount -o remount,bind,rw,nosuid,nodev,noexec /proc/sys/net
if [ -e /proc/sysrq-trigger ]; then
	mount --bind /proc/sysrq-trigger /proc/sysrq-trigger
	mount -o remount,bind,ro /proc/sysrq-trigger
fi

ip link set lo up

umount -l "$e"
umount -l "$st"
rmdir "$st"

say "booting systemd as pid $$ in $cg"
exec setpriv --bounding-set -sys_module,-sys_time,-sys_rawio,-syslog,-wake_alarm,-block_suspend,-mac_admin,-mac_override,-linux_immutable,-sys_pacct,-audit_control,-audit_read,-perfmon \
	env -i container=other /lib/systemd/systemd --system --unit=multi-user.target
