"""The runtime every ``publisher-<platform>`` runs on (DESIGN.md, "Publishing: one runtime").

A platform implements :class:`~cachalot_publishing.ports.Platform` (its client
and upload steps, raising :class:`~cachalot_publishing.outcome.Outcome` for
anything but success) and builds its app with
:func:`~cachalot_publishing.app.build_publisher_app`; everything else
(consuming, scheduling, offsets, leases, results, metrics) is here.
"""
