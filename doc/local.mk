# doc/: design, layout, protocol and reliability documents (installed).
dist_doc_DATA += doc/design.md
