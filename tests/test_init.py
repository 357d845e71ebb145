"""The public API: every name in ``eurec4a.__all__`` resolves and is documented."""
import inspect

import fsspec

import eurec4a


def test_every_name_in_all_resolves_and_has_a_docstring():
    assert len(eurec4a.__all__) == len(set(eurec4a.__all__))
    for name in eurec4a.__all__:
        obj = getattr(eurec4a, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert obj.__doc__ and obj.__doc__.strip(), f"{name} has no docstring"


def test_public_functions_have_an_example():
    for name in eurec4a.__all__:
        obj = getattr(eurec4a, name)
        if inspect.isfunction(obj):
            assert ">>>" in obj.__doc__, f"{name}'s docstring has no example"


def test_version_and_user_agent():
    assert eurec4a.__version__
    assert eurec4a.__version__ in eurec4a.USER_AGENT


def test_importing_registers_the_verified_ipfs_filesystem():
    assert fsspec.get_filesystem_class("ipfs") is eurec4a.IPFSFileSystem


def test_errors_subclass_the_builtins_users_catch():
    assert issubclass(eurec4a.InvalidCIDError, ValueError)
    assert issubclass(eurec4a.PointerFileError, ValueError)
    assert issubclass(eurec4a.CatalogNotFoundError, LookupError)
    assert issubclass(eurec4a.ServerUnreachableError, ConnectionError)
    for name in eurec4a.__all__:
        obj = getattr(eurec4a, name)
        if inspect.isclass(obj) and issubclass(obj, Warning):
            assert issubclass(obj, eurec4a.Eurec4aWarning), name
        elif inspect.isclass(obj) and issubclass(obj, Exception):
            assert issubclass(obj, eurec4a.Eurec4aError), name
