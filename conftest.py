"""Root conftest: pytester for the plugin's end-to-end tests (tests/ runs real pytest runs)."""

pytest_plugins = ["pytester"]
