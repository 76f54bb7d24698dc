"""The words of the domain, defined once: verdicts, gfn states, triggers (no imports)."""

#: what change_pte did (see the README's verdict table); "absent": no change_pte at that release
VERDICTS = ("no-op", "flush-only", "changes", "n/a", "absent")
#: the gfn's secondary mapping before the event
STATES = ("mapped-4k", "mapped-huge", "unmapped")
#: the primary-MM callers of set_pte_at_notify (kvmspte.triggers models each)
TRIGGERS = ("ksm-write-protect", "ksm-replace-page", "cow", "uprobe", "migrate-device-zero")
