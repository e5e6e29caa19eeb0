"""The trading path's shared vocabulary: enums and immutable records.

Strategies, risk, the OMS, the router, venues and the portfolio all speak these types, so no
package imports another's internals to know what an order or a fill is.
"""
