"""Liquidation prices, the estimated level model, the heatmap and the cascade estimate."""
