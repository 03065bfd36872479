"""Filesystems of a board: littlefs v2 on a block device, and ``Files``.

Only boards/*/ touches files (DESIGN.md).  The firmware gets a ``Files``
object from its board (``board.fiscal_fs()``, ``board.ota_fs()``) and names
files relative to it; it never calls ``open`` or ``os`` itself.
"""

import os

S_IFDIR = 0x4000


class Files:
    """The files under one directory ``root`` (a mount point, or a directory
    on a mounted filesystem): what the fiscal journal and OTA need, no more.

    Names are relative to the root and "/"-separated; "" is the root itself.
    An absolute name or one that goes up ("..") raises ValueError.  Every
    call is the one ``os`` call (or ``open``) on ``root + "/" + name``, so
    littlefs sees exactly the operations the caller asked for.
    """

    def __init__(self, root, mounted=False):
        if not root or root[0] != "/":
            raise ValueError("root must be an absolute path: %r" % (root,))
        while len(root) > 1 and root[-1] == "/":
            root = root[:-1]
        self.root = root
        self._prefix = "/" if root == "/" else root + "/"
        self._mounted = mounted  # umount() unmounts root

    def __repr__(self):
        return "<Files %s>" % self.root

    def path(self, name=""):
        """The absolute path of ``name`` (for messages, and for a loader
        that must put a directory on ``sys.path``)."""
        if not name:
            return self.root
        if (
            name[0] == "/"
            or name == ".."
            or name.startswith("../")
            or name.endswith("/..")
            or "/../" in name
        ):
            raise ValueError("%r is not a name under %s" % (name, self.root))
        return self._prefix + name

    def sub(self, name):
        """A ``Files`` for the directory ``name`` (which need not exist yet)."""
        return Files(self.path(name))

    # -- files -------------------------------------------------------------
    def open(self, name, mode="rb"):
        """The built-in ``open``; modes "rb", "wb", "ab", "r+b", text too.
        Close it explicitly (``with``): a file left to the garbage collector
        is closed by a finaliser that runs with the heap locked."""
        return open(self.path(name), mode)

    def stat(self, name=""):
        return os.stat(self.path(name))

    def exists(self, name=""):
        try:
            os.stat(self.path(name))
            return True
        except OSError:
            return False

    def isdir(self, name=""):
        try:
            return os.stat(self.path(name))[0] & S_IFDIR != 0
        except OSError:
            return False

    def size(self, name):
        return os.stat(self.path(name))[6]

    def listdir(self, name=""):
        return os.listdir(self.path(name))

    def mkdir(self, name):
        os.mkdir(self.path(name))

    def rename(self, old, new):
        """Atomic on littlefs: after a power cut ``new`` is the old file or
        the new one, never a mix."""
        os.rename(self.path(old), self.path(new))

    def remove(self, name):
        os.remove(self.path(name))

    def rmdir(self, name):
        os.rmdir(self.path(name))

    # -- space ---------------------------------------------------------------
    def statvfs(self):
        return os.statvfs(self.root)

    def free_bytes(self):
        """Free space of the filesystem holding the root (littlefs counts it
        by walking its blocks: not free of cost)."""
        st = os.statvfs(self.root)
        return st[0] * st[3]

    def umount(self):
        """Unmount the filesystem, when this object was made by mounting it."""
        if self._mounted:
            os.umount(self.root)
            self._mounted = False


def mkfs(dev, readsize=32, progsize=32, lookahead=32):
    """Format ``dev`` with littlefs v2."""
    os.VfsLfs2.mkfs(dev, readsize=readsize, progsize=progsize, lookahead=lookahead)


def mount(dev, path, readsize=32, progsize=32, lookahead=32, format_if_needed=False):
    """Mount littlefs v2 on ``dev`` at ``path``; format first if asked and needed."""
    try:
        vfs = os.VfsLfs2(dev, readsize=readsize, progsize=progsize, lookahead=lookahead)
    except OSError:
        if not format_if_needed:
            raise
        mkfs(dev, readsize, progsize, lookahead)
        vfs = os.VfsLfs2(dev, readsize=readsize, progsize=progsize, lookahead=lookahead)
    os.mount(vfs, path)
    return vfs


def mount_spec(dev, spec, path=None, format_if_needed=True):
    """Mount per a board's ``flash.<area>`` spec; returns the mount point."""
    where = path or spec["mount"]
    mount(
        dev,
        where,
        spec.get("readsize", 32),
        spec.get("progsize", 32),
        spec.get("lookahead", 32),
        format_if_needed,
    )
    return where


def mount_files(dev, spec, path=None, format_if_needed=True):
    """Mount per ``spec`` and return a ``Files`` on the mount point
    (``umount()`` on it unmounts)."""
    return Files(mount_spec(dev, spec, path, format_if_needed), True)


def area_spec(config, area):
    """The board data's ``flash.<area>``; ValueError naming the board when
    the board has no such area (``"ota": null`` says so explicitly)."""
    spec = config["flash"].get(area)
    if spec is None:
        raise ValueError("board %s has no %s flash area (flash.%s)" % (config["name"], area, area))
    return spec
