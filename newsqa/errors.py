"""One exception hierarchy. The CLI turns a UserError into a one-line message and exit code 2."""


class NewsQAError(Exception):
    """Base class of every error newsqa raises on purpose."""


class UserError(NewsQAError):
    """Bad input or a request this machine cannot serve: the user can fix it."""


class InputError(UserError):
    """The article or the question cannot be used (empty, binary, missing, too long...)."""


class DeviceError(UserError):
    """The requested device does not exist or is not available here."""


class ModelError(UserError):
    """A model cannot be loaded (unknown name, offline, not a seq2seq model)."""


class NotFoundError(UserError):
    """An article id that the library does not hold."""
