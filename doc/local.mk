# doc/: design, layout, protocol and reliability documents (installed).
dist_doc_DATA += doc/design.md
dist_doc_DATA += doc/protocol.md doc/shm-layout.md
dist_doc_DATA += doc/preload.md
