"""The only subpackage that imports Streamlit: connection, widgets, cards, tables, sign-in."""
