"""Market prices (市场行情): commodities, markets, price series and the latest board."""
