"""The runtime every ``publisher-<platform>`` runs on (DESIGN.md, "Publishing: one runtime").

A platform implements :class:`~cachalot_publishing.ports.Platform` (its client
and upload steps, raising :class:`~cachalot_publishing.outcome.Outcome` for
anything but success) and declares its service with
:class:`~cachalot_publishing.app.PublisherService`; everything else
(consuming, scheduling, offsets, leases, results, metrics) is here.
"""
