def pytest_terminal_summary(terminalreporter):
    """Say which base image the container tests built on, and how big the image is."""
    from test_docker import REPORT

    for key, value in REPORT.items():
        terminalreporter.write_line(f"container: {key}: {value}")
