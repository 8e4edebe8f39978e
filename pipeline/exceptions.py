"""Errors that become clean command-line messages (build.py turns them into `Error: …`, exit 1)."""

from __future__ import annotations


class StatistiquesError(Exception):
    """Base of the errors a user can fix: the message says what and how."""


class InputFileError(StatistiquesError):
    """An input file is missing or cannot be read."""


class DirectoryError(StatistiquesError):
    """The directory snapshot is missing a file or has a malformed one."""


class LakeError(StatistiquesError):
    """The lake is missing or in a state this version cannot read."""


class CapacityError(StatistiquesError):
    """The data goes past a limit of this version's arrays (the message names the limit)."""


class LakeBusyError(StatistiquesError):
    """Another run holds the lake's lock."""


class SiteFolderError(StatistiquesError):
    """`--out` names something that is not a site this program published (it would not be replaced)."""


class RetentionError(StatistiquesError):
    """A retention setting that would delete events the indicators still need."""


class RejectRateError(StatistiquesError):
    """A run rejected more of its lines than `--max-reject-rate` allows (raised once all is written)."""


class ClusterError(StatistiquesError):
    """`--scheduler`: the cluster cannot be reached, has no worker, or lost them all during the run."""
