"""Pure figure builders: DataFrame(s) + options -> plotly Figure.  Never imports streamlit.

Every builder aggregates in numpy / pandas and sends binned data to plotly (never one
point per person), so a figure over a million persons stays small.
"""
