"""Xoxoday Plum Pro API client: typed orders, lenient answers, rotating tokens, typed errors."""

from services.xoxoday.client import SANDBOX_URL, Exchange, XoxodayClient
from services.xoxoday.models import (
    AirmilesOrder,
    Balance,
    CharityOrder,
    GiftCardOrder,
    Order,
    OrderRequest,
    Product,
    TopupOrder,
    Voucher,
)
from services.xoxoday.ratelimit import RateLimiter
from services.xoxoday.tokens import FileTokenStore, MemoryTokenStore, TokenSet, TokenStore

__all__ = [
    "SANDBOX_URL",
    "AirmilesOrder",
    "Balance",
    "CharityOrder",
    "Exchange",
    "FileTokenStore",
    "GiftCardOrder",
    "MemoryTokenStore",
    "Order",
    "OrderRequest",
    "Product",
    "RateLimiter",
    "TokenSet",
    "TokenStore",
    "TopupOrder",
    "Voucher",
    "XoxodayClient",
]
