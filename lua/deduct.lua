-- sellout's stock deduction: the seed script's contract (KEYS[1] stock, KEYS[2] journal hash,
-- ARGV[1] quantity, ARGV[2] request ID; reply = new stock as an integer) without its flaws.
--
-- Differences from lua/seed-deduct.lua, and why:
--  * ARGV[1] must be a positive integer written in decimal digits, else INVALID_QUANTITY with
--    nothing written: the seed accepts -5 (raises stock), 0 (burns the ID), 0.5 and nan.
--  * Numbers are limited to 14 digits: Lua numbers are doubles and cjson/tostring format them
--    with %.14g, so anything wider would be stored or journaled inexactly (STOCK_OUT_OF_RANGE).
--  * The stock is always written back as an integer string ('%d', never tostring's %.14g).
--  * The journal entry says action = "decrease" and records from/to/change as integers.
-- Every check happens before the first write: a Redis script has no rollback.
local stock_key = KEYS[1]
local journal_key = KEYS[2]
local quantity_arg = ARGV[1]
local request_id = ARGV[2]

if redis.call('HEXISTS', journal_key, request_id) == 1 then
    return redis.error_reply('OPERATION_ALREADY_EXECUTED')
end

if type(quantity_arg) ~= 'string' or not string.match(quantity_arg, '^[1-9][0-9]*$')
    or #quantity_arg > 14 then
    return redis.error_reply('INVALID_QUANTITY')
end
local quantity = tonumber(quantity_arg)

local current = redis.call('GET', stock_key)
if current == false then
    return redis.error_reply('KEY_NOT_FOUND')
end
if not string.match(current, '^-?[0-9]+$') then
    return redis.error_reply('current value is not a number')
end
if #current > 14 then
    return redis.error_reply('STOCK_OUT_OF_RANGE')
end
local stock = tonumber(current)

if stock < quantity then
    return redis.error_reply('INVENTORY_NOT_ENOUGH')
end

local new_stock = stock - quantity
redis.call('SET', stock_key, string.format('%d', new_stock))

local time = redis.call('TIME')
local now_ms = (tonumber(time[1]) * 1000) + math.floor(tonumber(time[2]) / 1000)

redis.call('HSET', journal_key, request_id, cjson.encode({
    action = 'decrease',
    from = stock,
    to = new_stock,
    change = quantity,
    by = request_id,
    timestamp = now_ms
}))

return new_stock
