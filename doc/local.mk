# doc/: design, layout, protocol and reliability documents (installed).
dist_doc_DATA += doc/design.md doc/semantics.md
dist_doc_DATA += doc/protocol.md doc/shm-layout.md
# the status page of errseq-exporter, as tests/test_status_page shot it
# (shown in README.md)
EXTRA_DIST += doc/status-page.png
dist_doc_DATA += doc/preload.md
