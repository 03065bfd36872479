"""littlefs v2 helpers shared by every board's fiscal flash."""

import os


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
    """Mount per a board's ``flash.fiscal`` spec; returns the mount point."""
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
