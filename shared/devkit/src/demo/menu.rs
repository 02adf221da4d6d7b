//! The menu the orders and POS transactions are drawn from.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum DishKind {
    Main,
    Premium,
    Staple,
    Rice,
    DimSum,
    Drink,
}

pub(super) struct Dish {
    pub(super) id: &'static str,
    pub(super) name: &'static str,
    pub(super) fen: i64,
    pub(super) kind: DishKind,
}

pub(super) const fn dish(id: &'static str, name: &'static str, fen: i64, kind: DishKind) -> Dish {
    Dish {
        id,
        name,
        fen,
        kind,
    }
}

pub(super) const MENU: &[Dish] = &[
    dish("D001", "宫保鸡丁", 4800, DishKind::Main),
    dish("D002", "水煮鱼", 8800, DishKind::Main),
    dish("D003", "麻婆豆腐", 2800, DishKind::Main),
    dish("D004", "鱼香肉丝", 3800, DishKind::Main),
    dish("D005", "回锅肉", 4200, DishKind::Main),
    dish("D006", "糖醋排骨", 5800, DishKind::Main),
    dish("D007", "红烧肉", 5600, DishKind::Main),
    dish("D008", "清蒸鲈鱼", 8800, DishKind::Main),
    dish("D009", "东坡肉", 6800, DishKind::Main),
    dish("D010", "酸菜鱼", 7800, DishKind::Main),
    dish("D011", "干煸四季豆", 3200, DishKind::Main),
    dish("D012", "蒜蓉西兰花", 2600, DishKind::Main),
    dish("D013", "地三鲜", 3000, DishKind::Main),
    dish("D014", "西湖醋鱼", 7800, DishKind::Main),
    dish("D015", "口水鸡", 4600, DishKind::Main),
    dish("D016", "夫妻肺片", 4800, DishKind::Main),
    dish("D017", "蟹粉豆腐", 6800, DishKind::Main),
    dish("D018", "小炒黄牛肉", 6600, DishKind::Main),
    dish("D019", "辣子鸡", 5800, DishKind::Main),
    dish("D020", "酸辣土豆丝", 2200, DishKind::Main),
    dish("D021", "番茄炒蛋", 2600, DishKind::Main),
    dish("D022", "干锅花菜", 3400, DishKind::Main),
    dish("D023", "酸辣汤", 2200, DishKind::Main),
    dish("D024", "腌笃鲜", 6800, DishKind::Main),
    dish("D101", "北京烤鸭", 19800, DishKind::Premium),
    dish("D102", "松鼠鳜鱼", 16800, DishKind::Premium),
    dish("D103", "佛跳墙", 38800, DishKind::Premium),
    dish("D104", "清蒸东星斑", 32800, DishKind::Premium),
    dish("D105", "鲍汁扣辽参", 26800, DishKind::Premium),
    dish("D106", "避风塘炒蟹", 22800, DishKind::Premium),
    dish("D201", "米饭", 300, DishKind::Rice),
    dish("D202", "扬州炒饭", 2800, DishKind::Staple),
    dish("D203", "担担面", 2200, DishKind::Staple),
    dish("D204", "葱油拌面", 1800, DishKind::Staple),
    dish("D301", "小笼包", 3200, DishKind::DimSum),
    dish("D302", "生煎包", 2400, DishKind::DimSum),
    dish("D303", "蟹黄汤包", 4800, DishKind::DimSum),
    dish("D304", "春卷", 1800, DishKind::DimSum),
    dish("D401", "酸梅汤", 1200, DishKind::Drink),
    dish("D402", "可乐", 800, DishKind::Drink),
    dish("D403", "鲜榨橙汁", 2200, DishKind::Drink),
    dish("D404", "菊花茶", 1600, DishKind::Drink),
    dish("D405", "青岛啤酒", 1500, DishKind::Drink),
];

/// Delivery fee added to delivery orders' totals (not an item line).
pub(super) const DELIVERY_FEE_FEN: i64 = 600;
