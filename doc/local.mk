# doc/: design, layout, protocol and reliability documents (installed).
dist_doc_DATA += doc/design.md doc/semantics.md
dist_doc_DATA += doc/protocol.md doc/shm-layout.md
