"""The only subpackage that imports Streamlit: connection, jobs (work that outlives a page),
loading, widgets, cards, tables, filters, sign-in, the Segments tables and the charts."""
