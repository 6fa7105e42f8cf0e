"""Merchant price warnings (促销预警): the lowest unit price a buyer can reach for each SKU.

Every figure is a cart priced by `engine.pricing.quote.evaluate` (explain off), the same engine as
checkout; this module only decides which carts to price. For one catalog item at one time:

- **alone**: 1..K units of it (K = `Options.max_units`), plus the unit counts its promotions'
  thresholds point at (quantity thresholds, `nth N`, and the units it takes to reach an amount
  threshold or an `every` step), up to `Options.max_quantity`;
- **filler**: 1..K units of it with one filler line that tops an amount threshold up exactly (a
  threshold of `when`, of a tier, or a multiple of an `every` step: where 满减 and 每满减 give their
  highest rate), from its own shop (`filler_shop` = the SKU's shop) or from another shop
  (`OTHER_SHOP`); for quantity thresholds and `nth` at shop/platform level, filler units instead;
- **split orders**: K units bought as K orders of one unit (per-order coupons used again,
  `limit N per user` respected by counting the uses of the earlier orders);
- the buyer holds **every coupon** of the ruleset that could touch the cart (the engine picks the
  best set), and **presale bonuses** are taken: a SKU in a deposit presale is priced at its balance
  stage (its final is deposit + balance) and `sold` tiers are taken as reached.

The unit price of a scenario is the SKU line's final divided by its quantity (an exact fraction).
The filler is a made-up item: sku `FILLER_SKU`, with the SKU's category, brand and tags (a
"similar item"), one unit unless it supplies units. Line ids put the SKU first (`a:sku`), so
allocation ties go to the SKU (the merchant's worst case).

A scenario is priced only if a lower bound of its unit price (`Bounds`, no pricing) can beat the
best price found so far; scenarios are priced in order of their bounds, so the result is that of
pricing every one of them.

What-ifs rerun the same search on a variant plan: the SKU removed from one shop-level promotion
(`remove_from`), or the other stacking mode.
"""
